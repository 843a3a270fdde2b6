# shellcheck shell=bash disable=SC2034 # its globals are read by the other files lib/provision.sh sources
# Reads matrix/farm.yml without a YAML library: a bare board has bash and awk, not Node or
# PyYAML. It understands the subset farm.yml is written in (a section of named entries whose
# fields are scalars, flow lists `[a, b]` or block lists `- a`), and a test holds its answers to
# the TypeScript loader's for every device of the real file.

# matrix_field FILE SECTION ENTRY FIELD: prints the value (a list comma-joined); status 1 when
# the entry or field is missing.
matrix_field() {
  awk -v want_section="$2" -v want_entry="$3" -v want_field="$4" '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    function unquote(s) {
      s = trim(s)
      if (s ~ /^".*"$/ || s ~ /^'\''.*'\''$/) s = substr(s, 2, length(s) - 2)
      return s
    }
    # A "#" at the start or after a blank opens a comment (farm.yml has no "#" inside values).
    function uncomment(s) { if (match(s, /(^|[ \t])#/)) s = substr(s, 1, RSTART - 1); return s }
    function flush() { if (collecting) { print out; found = 1; collecting = 0 } }
    {
      line = uncomment($0)
      if (trim(line) == "") next
      if (line ~ /^[^ \t]/) { flush(); section = line; sub(/:.*/, "", section); entry = ""; next }
      if (section != want_section) next
      if (line ~ /^  [^ \t-][^:]*:/) {
        flush(); entry = line; sub(/:.*/, "", entry); entry = unquote(entry); next
      }
      if (entry != want_entry) next
      if (line ~ /^    [^ \t-][^:]*:/) {
        flush()
        key = line; sub(/:.*/, "", key); key = trim(key)
        if (key != want_field) next
        val = line; sub(/^[^:]*:/, "", val); val = trim(val)
        if (val == "") { collecting = 1; out = ""; next }
        if (val ~ /^\[/) {
          val = substr(val, 2); sub(/\][ \t]*$/, "", val)
          n = split(val, parts, ","); out = ""
          for (i = 1; i <= n; i++) { p = unquote(parts[i]); if (p != "") out = out (out == "" ? "" : ",") p }
          print out; found = 1; next
        }
        print unquote(val); found = 1; next
      }
      if (collecting && line ~ /^ +- /) {
        item = line; sub(/^ +- /, "", item); out = out (out == "" ? "" : ",") unquote(item); next
      }
      flush()
    }
    END { flush(); if (!found) exit 1 }
  ' "$1"
}

# matrix_entries FILE SECTION: the entry names of a section, one a line.
matrix_entries() {
  awk -v want_section="$2" '
    { line = $0; if (match(line, /(^|[ \t])#/)) line = substr(line, 1, RSTART - 1) }
    line ~ /^[^ \t]/ { section = line; sub(/:.*/, "", section); next }
    section == want_section && line ~ /^  [^ \t-][^:]*:/ {
      name = line; sub(/:.*/, "", name); gsub(/^[ \t"]+|[ \t"]+$/, "", name); print name
    }
  ' "$1"
}
