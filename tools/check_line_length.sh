#!/usr/bin/env bash
# Prints every Swift source line longer than 120 columns as `path:line: N columns` and exits 1
# if there is one (0 if none). With no arguments it checks Sources/, Tests/ and Package.swift;
# otherwise the files and folders given (folders are searched for *.swift).
# Columns are Unicode scalars (UTF-8 continuation bytes are not counted), as .swift-format's
# lineLength counts them.
set -euo pipefail

limit=120

if [ "$#" -eq 0 ]; then
    cd "$(dirname "$0")/.."
    set -- Sources Tests Package.swift
fi

files=()
for path in "$@"; do
    if [ -d "$path" ]; then
        while IFS= read -r -d '' file; do files+=("$file"); done \
            < <(find "$path" -name '*.swift' -type f -print0 | sort -z)
    elif [ -f "$path" ]; then
        files+=("$path")
    else
        echo "check_line_length: no such file or folder: $path" >&2
        exit 2
    fi
done

[ "${#files[@]}" -eq 0 ] && exit 0

LC_ALL=C awk -v limit="$limit" '
    {
        line = $0
        sub(/\r$/, "", line)
        gsub(/[\200-\277]/, "", line)
        columns = length(line)
        if (columns > limit) {
            printf "%s:%d: %d columns\n", FILENAME, FNR, columns
            found = 1
        }
    }
    END { exit found ? 1 : 0 }
' "${files[@]}"
