#!/usr/bin/env bash
# Rotation benchmarks of issue 14: figures and ratios, no assertions.
#
#   1. N (default 50) AWS IAM keys on moto_server: `keyward rotate --yes` (the release
#      binary) against an aws-CLI shell loop making the same calls per key
#      (create-access-key, sts get-caller-identity with the new key, update-access-key
#      Inactive on the old one); seconds per key each and the ratio; then one key's rotation
#      and how much of it is not provider calls.
#   2. 1,000 sandbox rotations at 50 ms latency with 10% of calls answered 429 (the 429s say
#      when the sandbox's rate-limit window resets, as real limiters do), against the floor
#      (ceil(N / concurrency) x calls per rotation x latency), and the saves; once with
#      100 ms windows, once with 1 s windows.
#   3. 200 sandbox rotations whose new keys work only 5 s after creation, against one
#      propagation window plus the floor.
#
# Wall time and CPU time (user + system) of each, since the machine may be shared: compare
# runs made at a similar load (`uptime`, printed first).
#
# Output: human lines, and one line per figure for a runner to tabulate:
#
#   RESULT|name|figure|floor-or-alternative|ratio|target
#
# fields separated by `|`, none containing one; `-` where a field does not apply.
#
# Run from anywhere: `bash bench/rotation.sh` (N=20 for a quicker run). `bench/run` may
# source it and call `bench_rotation`. Needs moto_server (scripts/test-setup.sh installs
# it), python3, curl and bc; uses the aws CLI on PATH, else installs it into a venv under the
# target directory.

bench_rotation() (
    set -euo pipefail
    local root n tgt work port url moto_pid
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    n="${N:-50}"
    tgt="${CARGO_TARGET_DIR:-$root/target}"
    (cd "$root" && cargo build --release --quiet --bin keyward --example bench_rotation --example bench_moto)
    local keyward="$tgt/release/keyward"

    if ! command -v aws >/dev/null 2>&1 || ! aws --version >/dev/null 2>&1; then
        if [ ! -x "$tgt/bench-awscli/bin/aws" ]; then
            echo "installing the aws CLI into $tgt/bench-awscli ..." >&2
            python3 -m venv "$tgt/bench-awscli"
            "$tgt/bench-awscli/bin/pip" install --quiet awscli
        fi
        PATH="$tgt/bench-awscli/bin:$PATH"
    fi
    command -v moto_server >/dev/null || { echo "moto_server is missing: run scripts/test-setup.sh" >&2; return 1; }

    echo "== load: $(uptime | sed 's/.*load average/load average/')"
    work="$(mktemp -d)"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    url="http://127.0.0.1:$port"
    moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
    moto_pid=$!
    # A subshell function: the trap ends with it, and kills only the moto it started.
    trap "kill $moto_pid 2>/dev/null; rm -rf '$work'" EXIT
    for _ in $(seq 100); do curl -sf "$url/moto-api/config" >/dev/null && break; sleep 0.1; done

    # moto without authentication: any key signs, but the service comes from the scope.
    export AWS_ACCESS_KEY_ID=AKIABENCHMANAGEMENT0 AWS_SECRET_ACCESS_KEY=bench-management-secret
    export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER="" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    iam() { # ACTION&PARAMS -> response body (no aws CLI: setup is not what is measured)
        curl -sf "$url/" -H "Authorization: AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0" \
            --data "Version=2010-05-08&Action=$1"
    }
    local i
    for i in $(seq 0 $((n - 1))); do
        iam "CreateUser&UserName=bench-user-$i" >/dev/null
        iam "CreateUser&UserName=cli-user-$i" >/dev/null
    done
    mkdir -p "$work/home"
    (cd "$root" && "$tgt/release/examples/bench_moto" "$url" "$n" "$work/home") >/dev/null
    local old_ids=()
    for i in $(seq 0 $((n - 1))); do
        old_ids+=("$(iam "CreateAccessKey&UserName=cli-user-$i" | sed -n 's:.*<AccessKeyId>\(.*\)</AccessKeyId>.*:\1:p')")
    done

    # moto's own CPU seconds so far (utime + stime, ticks of 1/100 s): what the provider
    # stand-in costs during keyward's run, its floor on this machine.
    moto_cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$moto_pid/stat"; }
    local moto_before moto_during
    moto_before=$(moto_cpu)
    # keyward: wall, user and system seconds from GNU time.
    /usr/bin/time -f '%e %U %S' -o "$work/kw.time" env HOME="$work/home" \
        KEYWARD_INVENTORY="$work/home/inventory.yaml.age" \
        "$keyward" rotate --client bench --yes >"$work/kw.out" 2>"$work/kw.err" \
        || { cat "$work/kw.out" "$work/kw.err" >&2; return 1; }
    local kw_s kw_cpu
    read -r kw_s kw_user kw_sys < <(tail -1 "$work/kw.time")
    kw_cpu=$(echo "$kw_user + $kw_sys" | bc -l)
    moto_during=$(echo "$(moto_cpu) - $moto_before" | bc -l)
    if ! grep -q ": $n done, 0 failed" "$work/kw.out" "$work/kw.err"; then
        echo "keyward did not rotate all $n keys:" >&2
        tail -5 "$work/kw.out" "$work/kw.err" >&2
        return 1
    fi

    # The aws-CLI loop, in a shell of its own so GNU time counts every aws process.
    cli_loop() {
        local i=0 id secret
        for old in $OLD_IDS; do
            read -r id secret < <(aws --endpoint-url "$URL" iam create-access-key --user-name "cli-user-$i" \
                --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
            AWS_ACCESS_KEY_ID="$id" AWS_SECRET_ACCESS_KEY="$secret" \
                aws --endpoint-url "$URL" sts get-caller-identity >/dev/null
            aws --endpoint-url "$URL" iam update-access-key --user-name "cli-user-$i" \
                --access-key-id "$old" --status Inactive
            i=$((i + 1))
        done
    }
    OLD_IDS="${old_ids[*]}" URL="$url" /usr/bin/time -f '%e %U %S' -o "$work/cli.time" \
        bash -c "set -euo pipefail; $(declare -f cli_loop); cli_loop"
    local cli_s cli_cpu
    read -r cli_s cli_user cli_sys < <(tail -1 "$work/cli.time")
    cli_cpu=$(echo "$cli_user + $cli_sys" | bc -l)

    # One key alone, with the provider calls' time from keyward's own trace.
    /usr/bin/time -f '%e %U %S' -o "$work/one.time" env HOME="$work/home" \
        KEYWARD_INVENTORY="$work/home/inventory.yaml.age" KEYWARD_LOG=debug \
        "$keyward" rotate bench/key-0 --yes >/dev/null 2>"$work/one.log"
    local one_s one_cpu calls_ms one_ms beyond_ms
    read -r one_s one_user one_sys < <(tail -1 "$work/one.time")
    one_cpu=$(echo "($one_user + $one_sys) * 1000" | bc -l)
    calls_ms=$(grep 'http request' "$work/one.log" | grep -o 'elapsed_ms=[0-9]*' | cut -d= -f2 | paste -sd+ - | bc)
    one_ms=$(echo "$one_s * 1000" | bc -l)
    beyond_ms=$(echo "$one_ms - $calls_ms" | bc -l)

    local kw_per cli_per ratio
    kw_per=$(echo "$kw_s / $n" | bc -l)
    cli_per=$(echo "$cli_s / $n" | bc -l)
    ratio=$(echo "$cli_s / $kw_s" | bc -l)
    echo "== AWS IAM on moto_server: $n keys"
    printf '  keyward rotate     %6.2f s wall, %5.2f s CPU  (%.3f s a key); moto meanwhile %.2f s CPU\n' "$kw_s" "$kw_cpu" "$kw_per" "$moto_during"
    printf '  aws-CLI loop       %6.2f s wall, %5.2f s CPU  (%.3f s a key)\n' "$cli_s" "$cli_cpu" "$cli_per"
    printf '  ratio              %6.1fx faster (target: 100x)\n' "$ratio"
    printf '  one key            %6.0f ms wall (%.0f ms CPU), of which provider calls %s ms: %.0f ms beyond them (target: < 150 ms; includes starting the process and opening the inventory)\n' \
        "$one_ms" "$one_cpu" "$calls_ms" "$beyond_ms"
    printf 'RESULT|aws-moto-%s-keys|%.3f s/key|%.3f s/key aws-CLI loop|%.1fx|>= 100x\n' "$n" "$kw_per" "$cli_per" "$ratio"
    printf 'RESULT|aws-one-key-beyond-calls|%.0f ms|%s ms provider calls of %.0f ms|-|< 150 ms\n' "$beyond_ms" "$calls_ms" "$one_ms"

    echo "== 1000 sandbox rotations, 50 ms latency, 10% 429, rate-limit windows of 100 ms"
    "$tgt/release/examples/bench_rotation" 1000 50 0.1 0 100 | sed 's/^\([^R]\)/  \1/'
    echo "== 1000 sandbox rotations, 50 ms latency, 10% 429, rate-limit windows of 1 s"
    "$tgt/release/examples/bench_rotation" 1000 50 0.1 0 1000 | sed 's/^\([^R]\)/  \1/'
    echo "== 200 sandbox rotations, new keys working 5 s after creation"
    "$tgt/release/examples/bench_rotation" 200 50 0 5000 | sed 's/^\([^R]\)/  \1/'
)

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    bench_rotation "$@"
fi
