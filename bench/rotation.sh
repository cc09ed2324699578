#!/usr/bin/env bash
# Rotation benchmarks of issue 14: figures and ratios, no assertions.
#
#   1. N (default 50) AWS IAM keys on moto_server: `keyward rotate --yes` (the release
#      binary) against an aws-CLI shell loop making the same calls per key
#      (create-access-key, sts get-caller-identity with the new key, update-access-key
#      Inactive on the old one); seconds per key each and the ratio; then one key's rotation
#      and how much of it is not provider calls.
#   2. 1,000 sandbox rotations at 50 ms latency with 10% of calls answered 429, against the
#      floor (ceil(N / concurrency) x calls per rotation x latency), and the saves.
#   3. 200 sandbox rotations whose new keys work only 5 s after creation, against one
#      propagation window plus the floor.
#
# Run from anywhere: `bash bench/rotation.sh` (N=20 for a quicker run). `bench/run` may
# source it and call `bench_rotation`. Needs moto_server (scripts/test-setup.sh installs
# it) and python3; installs the aws CLI into a venv under the target directory if missing.

bench_rotation() {
    set -euo pipefail
    local root n tgt work port url moto_pid
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    n="${N:-50}"
    tgt="${CARGO_TARGET_DIR:-$root/target}"
    (cd "$root" && cargo build --release --quiet --bin keyward --example bench_rotation --example bench_moto)
    local keyward="$tgt/release/keyward"

    if ! command -v aws >/dev/null 2>&1; then
        if [ ! -x "$tgt/bench-awscli/bin/aws" ]; then
            echo "installing the aws CLI into $tgt/bench-awscli ..." >&2
            python3 -m venv "$tgt/bench-awscli"
            "$tgt/bench-awscli/bin/pip" install --quiet awscli
        fi
        PATH="$tgt/bench-awscli/bin:$PATH"
    fi
    command -v moto_server >/dev/null || { echo "moto_server is missing: run scripts/test-setup.sh" >&2; return 1; }

    work="$(mktemp -d)"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    url="http://127.0.0.1:$port"
    moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
    moto_pid=$!
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

    local t0 t1 kw_s cli_s
    t0=$(date +%s.%N)
    HOME="$work/home" KEYWARD_INVENTORY="$work/home/inventory.yaml.age" \
        "$keyward" rotate --client bench --yes >"$work/kw.out" 2>"$work/kw.err" \
        || { cat "$work/kw.out" "$work/kw.err" >&2; return 1; }
    t1=$(date +%s.%N)
    kw_s=$(echo "$t1 - $t0" | bc -l)

    t0=$(date +%s.%N)
    for i in $(seq 0 $((n - 1))); do
        read -r id secret < <(aws --endpoint-url "$url" iam create-access-key --user-name "cli-user-$i" \
            --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
        AWS_ACCESS_KEY_ID="$id" AWS_SECRET_ACCESS_KEY="$secret" \
            aws --endpoint-url "$url" sts get-caller-identity >/dev/null
        aws --endpoint-url "$url" iam update-access-key --user-name "cli-user-$i" \
            --access-key-id "${old_ids[$i]}" --status Inactive
    done
    t1=$(date +%s.%N)
    cli_s=$(echo "$t1 - $t0" | bc -l)

    # One key alone, with the provider calls' time from keyward's own trace.
    t0=$(date +%s.%N)
    HOME="$work/home" KEYWARD_INVENTORY="$work/home/inventory.yaml.age" KEYWARD_LOG=debug \
        "$keyward" rotate bench/key-0 --yes >/dev/null 2>"$work/one.log"
    t1=$(date +%s.%N)
    local one_s calls_ms
    one_s=$(echo "$t1 - $t0" | bc -l)
    calls_ms=$(grep 'http request' "$work/one.log" | grep -o 'elapsed_ms=[0-9]*' | cut -d= -f2 | paste -sd+ - | bc)

    echo "== AWS IAM on moto_server: $n keys"
    printf '  keyward rotate     %6.2f s  (%.3f s a key)\n' "$kw_s" "$(echo "$kw_s / $n" | bc -l)"
    printf '  aws-CLI loop       %6.2f s  (%.3f s a key)\n' "$cli_s" "$(echo "$cli_s / $n" | bc -l)"
    printf '  ratio              %6.1fx faster (target: 100x)\n' "$(echo "$cli_s / $kw_s" | bc -l)"
    printf '  one key            %6.0f ms, of which provider calls %s ms: %.0f ms beyond them (target: < 150 ms; includes opening the inventory)\n' \
        "$(echo "$one_s * 1000" | bc -l)" "$calls_ms" "$(echo "$one_s * 1000 - $calls_ms" | bc -l)"

    echo "== 1000 sandbox rotations, 50 ms latency, 10% 429"
    "$tgt/release/examples/bench_rotation" 1000 50 0.1 0 | sed 's/^/  /'
    echo "== 200 sandbox rotations, new keys working 5 s after creation"
    "$tgt/release/examples/bench_rotation" 200 50 0 5000 | sed 's/^/  /'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    bench_rotation "$@"
fi
