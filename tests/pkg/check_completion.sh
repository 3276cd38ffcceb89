#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_completion.sh COMPLETION TTF TTFD: the bash completion (packaging/bash-completion/ttf, run
# under bash-completion as an interactive shell would) offers every long option of each program's
# --help, the words of --protocol, certificate files for --tls-cert, nothing after an option that
# takes a number, and options again after a complete value.
set -uo pipefail
completion=${1:?usage: check_completion.sh COMPLETION TTF TTFD}
ttf=$(realpath "${2:?}") ttfd=$(realpath "${3:?}")
[ -f /usr/share/bash-completion/bash_completion ] || { echo "FAIL: bash-completion is not installed (scripts/deps.sh)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttf-completion.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/server.pem" "$tmp/notes.txt"

# complete WORD...: the candidates for the last word, sorted, one line.
complete_words() {
    bash --norc --noprofile -c '
        source /usr/share/bash-completion/bash_completion
        source "$0"
        COMP_WORDS=("${@}")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMP_LINE="${COMP_WORDS[*]}"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        cd "'"$tmp"'"
        _http_tunnel "${COMP_WORDS[0]}" "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort -u | tr "\n" " "' "$completion" "$@"
}

rc=0
expect() {   # expect WANT WORD...
    local want=$1 got
    shift
    got=$(complete_words "$@")
    if [ "${got% }" != "$want" ]; then
        echo "FAIL: completing '$*' gave '${got% }', want '$want'"
        rc=1
    else
        echo "ok: '$*' -> ${want:-(nothing)}"
    fi
}
long_opts() { "$@" --help | grep -Eo '^ +(-[[:alnum:]], )?--[[:alnum:]-]+(, --[[:alnum:]-]+)*' | grep -Eo -- '--[[:alnum:]-]+' | sort -u | tr '\n' ' '; }

for prog in "$ttf" "$ttfd"; do
    want=$(long_opts "$prog")
    [ "$(wc -w <<<"$want")" -ge 10 ] || { echo "FAIL: could not read the options of $prog --help"; rc=1; }
    expect "${want% }" "$prog" "--"
done
want=$(long_opts "$ttfd" token)
[ "$(wc -w <<<"$want")" -ge 3 ] || { echo "FAIL: could not read the options of ttfd token --help"; rc=1; }
expect "auto binary json" "$ttf" --protocol ""
expect "binary" "$ttf" --protocol=b
expect "server.pem" "$ttfd" --tls-cert ""
expect "" "$ttf" --port ""
expect "" "$ttfd" --max-body-size ""
expect "--port --protocol" "$ttf" --port 3000 --p
expect "token" "$ttfd" to
expect "--help --jwt-secret --sub --ttl" "$ttfd" token --
expect "" "$ttfd" token --ttl ""
exit $rc
