#!/usr/bin/env bash
# Installs what keyward's tests need on a fresh Debian machine, and nothing when it is all
# there already (a second run takes well under a second). Prints one line per check and
# exits non-zero as soon as something can neither be found nor installed: a test run must
# never silently skip a peer because it is missing.
#
#   age, tmux, curl, ssh, ssh-keygen, sshd, flock, setsid   Debian packages (apt-get update only when an install needs it)
#   node >= 20, npm   must already be present (the machine image provides them)
#   moto_server       pip package moto[server] (the AWS IAM/STS peer)
#   tests/peers/      npm ci: oidc-provider and Prism (skipped while the lock is unchanged)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$ROOT/tests/peers"
# Pinned to the version the peer behaviour in tests/peers/README.md was verified with.
MOTO_REQ='moto[server]==5.2.1'

ok()    { printf '%-9s %-13s %s\n' ok "$1" "$2"; }
done_() { printf '%-9s %-13s %s\n' installed "$1" "$2"; }
fail()  { printf '%-9s %-13s %s\n' FAILED "$1" "$2" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail apt "not root and no sudo: install the Debian packages by hand"
  SUDO=(sudo)
fi

apt_updated=0
# apt_install PKG... : install, refreshing the package lists first only if the install fails
# (a fresh image may have no or stale lists; an up-to-date one needs no network round trip).
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ! "${SUDO[@]}" apt-get install -y -q "$@" >/tmp/keyward-apt.log 2>&1; then
    if [ "$apt_updated" -eq 0 ]; then
      "${SUDO[@]}" apt-get update -q >>/tmp/keyward-apt.log 2>&1 || true
      apt_updated=1
    fi
    "${SUDO[@]}" apt-get install -y -q "$@" >>/tmp/keyward-apt.log 2>&1 \
      || { tail -n 20 /tmp/keyward-apt.log >&2; fail "$*" "apt-get install failed (log: /tmp/keyward-apt.log)"; }
  fi
}

# Debian packages, as command:package (ssh-keygen makes SSH identities for the interop
# tests; flock and setsid hold a lock and drop the terminal in the CLI tests).
for pair in age:age tmux:tmux curl:curl ssh-keygen:openssh-client flock:util-linux setsid:util-linux ssh:openssh-client; do
  cmd="${pair%%:*}" pkg="${pair##*:}"
  if command -v "$cmd" >/dev/null; then
    ok "$cmd" "$(command -v "$cmd")"
  else
    apt_install "$pkg"
    command -v "$cmd" >/dev/null || fail "$cmd" "installed $pkg but $cmd is still not on PATH"
    done_ "$cmd" "$(command -v "$cmd")"
  fi
done

# sshd: the deploy tests start their own on 127.0.0.1 (throwaway keys) for the `ssh` target.
# It lives in /usr/sbin, which a non-root PATH may lack.
if [ -x /usr/sbin/sshd ] || command -v sshd >/dev/null; then
  ok sshd "$(command -v sshd || echo /usr/sbin/sshd)"
else
  apt_install openssh-server
  [ -x /usr/sbin/sshd ] || fail sshd "installed openssh-server but /usr/sbin/sshd is missing"
  done_ sshd /usr/sbin/sshd
fi

# Node and npm come with the machine image; Debian's own nodejs is too old for oidc-provider 8
# and Prism 5, so a missing or old node is an error rather than something to apt-get.
command -v node >/dev/null || fail node "not found: Node.js >= 20 is required"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail node "version $(node --version) is too old: Node.js >= 20 is required"
ok node "$(node --version)"
command -v npm >/dev/null || fail npm "not found (it ships with Node.js)"
ok npm "$(npm --version)"

# moto_server: the AWS peer. `--help` imports the server (Flask and all), so it is a real check.
if moto_server --help >/dev/null 2>&1; then
  ok moto_server "$(command -v moto_server)"
else
  command -v python3 >/dev/null || fail moto_server "python3 not found"
  python3 -m pip install -q --root-user-action=ignore "$MOTO_REQ" || fail moto_server "pip install $MOTO_REQ failed"
  # pyenv only exposes new console scripts after a rehash.
  if command -v pyenv >/dev/null; then pyenv rehash || true; fi
  moto_server --help >/dev/null 2>&1 || fail moto_server "installed $MOTO_REQ but moto_server --help fails"
  done_ moto_server "$MOTO_REQ"
fi

# Node peers. The stamp records the lock file's hash and the node version npm ci ran with, so
# an unchanged tree costs one sha256sum; a changed lock (or a new node) reinstalls.
[ -f "$PEERS/package-lock.json" ] || fail tests/peers "package-lock.json missing"
want="$(sha256sum "$PEERS/package-lock.json" | cut -d' ' -f1) node-$node_major"
stamp="$PEERS/node_modules/.keyward-npm-ci.stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -x "$PEERS/node_modules/.bin/prism" ] && [ -d "$PEERS/node_modules/oidc-provider" ]; then
  ok tests/peers "node_modules up to date"
else
  (cd "$PEERS" && npm ci --no-audit --no-fund --loglevel=error >/tmp/keyward-npm.log 2>&1) \
    || { tail -n 20 /tmp/keyward-npm.log >&2; fail tests/peers "npm ci failed (log: /tmp/keyward-npm.log)"; }
  [ -x "$PEERS/node_modules/.bin/prism" ] || fail tests/peers "npm ci ran but node_modules/.bin/prism is missing"
  printf '%s\n' "$want" >"$stamp"
  done_ tests/peers "npm ci ($(node -p "require('$PEERS/node_modules/oidc-provider/package.json').version") oidc-provider, prism $(node -p "require('$PEERS/node_modules/@stoplight/prism-cli/package.json').version"))"
fi
