#!/usr/bin/env bash
# bench/analysis.sh: `filetrail analyze` next to the pipeline a user would
# script from the reference tools, on the same real binaries, in one run.
#
# Steps: build filetrail; build the corpus (Go's cmd/vet, cmd/gofmt and
# cmd/pprof for windows/amd64 and linux/amd64, about 70 MB; kept and
# reused while the Go version is the same); then, ANALYSIS_RUNS times and
# alternating so both see the same load:
#   - the scripted pipeline, one file after the other, per file: Debian's
#     /usr/bin/python3 with pefile (md5, sha1, sha256; for PE files imphash,
#     sections with md5 and entropy, overlay offset), `ssdeep -b`,
#     `tlsh -f`, `file -b`;
#   - the same pipeline two files at a time (`xargs -P 2`), so the ratio
#     is also given against a user who uses both cores;
#   - `filetrail analyze --jobs ANALYSIS_JOBS` over the corpus directory
#     (the full attribute set, parsers sandboxed in worker processes).
# Wall and CPU times come from GNU time (children included). It checks that
# filetrail's sha256, ssdeep, tlsh and imphash equal the reference tools'
# and writes a markdown report.
#
# Needs: go, GNU time (/usr/bin/time), /usr/bin/python3 with pefile,
# ssdeep, tlsh, file. Debian:
#   apt-get install -y time python3-pefile ssdeep tlsh-tools file
#
# Usage:
#   bench/analysis.sh [REPORT]
#
# Settings (environment, defaults in brackets):
#   ANALYSIS_REPORT [docs/PERFORMANCE-analysis.md]  report path; the first
#                   argument, when given, overrides it
#   ANALYSIS_RUNS [3]   timed rounds (median and spread are reported)
#   ANALYSIS_JOBS [2]   filetrail analyze --jobs
#   ANALYSIS_DIR [bench/out/analysis]  binaries, corpus, raw outputs
set -euo pipefail

COMMAND=""
for v in $(compgen -e | grep '^ANALYSIS_' | sort); do
	COMMAND+="$v=$(printf %q "${!v}") "
done
COMMAND+="bench/analysis.sh${1:+ $(printf %q "$1")}"

cd "$(dirname "$0")/.."

ANALYSIS_REPORT="${1:-${ANALYSIS_REPORT:-docs/PERFORMANCE-analysis.md}}"
: "${ANALYSIS_RUNS:=3}"
: "${ANALYSIS_JOBS:=2}"
: "${ANALYSIS_DIR:=bench/out/analysis}"

log() { echo "analysis.sh: $(date -u +%H:%M:%S) $*" >&2; }
die() {
	echo "analysis.sh: $*" >&2
	exit 1
}

PY=/usr/bin/python3
TIME=/usr/bin/time
for tool in go ssdeep tlsh file; do
	command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install -y time python3-pefile ssdeep tlsh-tools file)"
done
[ -x "$TIME" ] && "$TIME" -f %e true 2>/dev/null || die "GNU time not found at $TIME (Debian: apt-get install -y time)"
[ -x "$PY" ] && "$PY" -c 'import pefile' 2>/dev/null || die "$PY cannot import pefile (Debian: apt-get install -y python3-pefile)"

mkdir -p "$ANALYSIS_DIR"
DIR="$(cd "$ANALYSIS_DIR" && pwd)"
RUN="$DIR/run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN"
started_at="$(date -u '+%Y-%m-%d %H:%M UTC')"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

log "building filetrail"
go build -o "$DIR/filetrail" ./cmd/filetrail

# The corpus: real Go-built programs, deterministic for one Go version.
CORPUS="$DIR/corpus"
stamp="$(go version)"
if [ "$(cat "$CORPUS/.stamp" 2>/dev/null)" != "$stamp" ]; then
	log "building the corpus (once per Go version; a few minutes)"
	rm -rf "$CORPUS"
	mkdir -p "$CORPUS"
	for goos in windows linux; do
		ext=""
		[ "$goos" = windows ] && ext=.exe
		for cmd in vet gofmt pprof; do
			GOOS=$goos GOARCH=amd64 CGO_ENABLED=0 go build -trimpath \
				-o "$CORPUS/$cmd-$goos-amd64$ext" "cmd/$cmd"
		done
	done
	echo "$stamp" >"$CORPUS/.stamp"
fi
files=("$CORPUS"/*)
corpus_bytes=$(cat "${files[@]}" | wc -c)

# The scripted pipeline, one file per call.
cat >"$DIR/pe_attrs.py" <<'EOF'
import hashlib, sys

path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read()
print("md5", hashlib.md5(data).hexdigest())
print("sha1", hashlib.sha1(data).hexdigest())
print("sha256", hashlib.sha256(data).hexdigest())
if data[:2] == b"MZ":
    import pefile
    pe = pefile.PE(data=data)
    print("imphash", pe.get_imphash())
    for s in pe.sections:
        name = s.Name.rstrip(b"\0").decode("latin-1")
        print("section", name, hashlib.md5(s.get_data()).hexdigest(), round(s.get_entropy(), 2))
    print("overlay", pe.get_overlay_data_start_offset())
EOF
cat >"$DIR/reference-one.sh" <<EOF
#!/bin/sh
# The reference tools on one file, as a user would script them.
set -e
echo "== \$1"
$PY "$DIR/pe_attrs.py" "\$1"
ssdeep -b "\$1"
tlsh -f "\$1"
file -b "\$1"
EOF
chmod +x "$DIR/reference-one.sh"

# timed NAME OUT CMD...: runs CMD with stdout to OUT, appends
# "NAME wall user sys" to $RUN/times.
timed() {
	local name=$1 out=$2
	shift 2
	"$TIME" -f "$name %e %U %S" -a -o "$RUN/times" "$@" >"$out"
}

log "corpus: ${#files[@]} files, $corpus_bytes bytes; $ANALYSIS_RUNS rounds"
for i in $(seq 1 "$ANALYSIS_RUNS"); do
	log "round $i: scripted pipeline"
	timed reference "$RUN/reference-$i.txt" sh -c 'for f; do "$0" "$f"; done' "$DIR/reference-one.sh" "${files[@]}"
	log "round $i: filetrail analyze --jobs $ANALYSIS_JOBS"
	timed filetrail "$RUN/filetrail-$i.jsonl" "$DIR/filetrail" analyze --jobs "$ANALYSIS_JOBS" "$CORPUS"
	log "round $i: scripted pipeline, 2 files at a time"
	timed reference2 "$RUN/reference2-$i.txt" sh -c 'printf "%s\n" "$@" | xargs -P 2 -n 1 "$0"' "$DIR/reference-one.sh" "${files[@]}"
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

log "checking outputs and writing $ANALYSIS_REPORT"
"$PY" - "$RUN" "$ANALYSIS_RUNS" "$corpus_bytes" "$ANALYSIS_REPORT" <<EOF
import json, os, re, statistics, subprocess, sys

run, runs, corpus_bytes, report = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

# Every round of filetrail printed the same bytes.
outs = [open(f"{run}/filetrail-{i}.jsonl", "rb").read() for i in range(1, runs + 1)]
assert all(o == outs[0] for o in outs), "filetrail's output differs between rounds"
ft = {}
for line in outs[0].decode().splitlines():
    a = json.loads(line)["data"]["attributes"]
    ft[a["sha256"]] = a

# The reference's answers, per file.
ref, cur = {}, None
for line in open(f"{run}/reference-1.txt"):
    line = line.rstrip("\n")
    if line.startswith("== "):
        cur = {"path": line[3:]}
        ref[cur["path"]] = cur
    elif line.startswith(("md5 ", "sha1 ", "sha256 ", "imphash ", "overlay ")):
        k, v = line.split(" ", 1)
        cur[k] = v
    elif re.match(r"^[0-9]+:[A-Za-z0-9+/]*:[A-Za-z0-9+/]*,", line):
        cur["ssdeep"] = line.split(",")[0]
    elif re.match(r"^[0-9A-Fa-f]{70}\t", line):
        cur["tlsh"] = "T1" + line.split("\t")[0].upper()
checked, mismatches = 0, []
for path, r in ref.items():
    a = ft.get(r.get("sha256"))
    if a is None:
        mismatches.append(f"{path}: no filetrail report with sha256 {r.get('sha256')}")
        continue
    pairs = [("md5", a.get("md5"), r.get("md5")), ("sha1", a.get("sha1"), r.get("sha1")),
             ("ssdeep", a.get("ssdeep"), r.get("ssdeep")), ("tlsh", a.get("tlsh"), r.get("tlsh"))]
    if "imphash" in r:
        pairs.append(("imphash", a.get("pe_info", {}).get("imphash"), r["imphash"]))
    for k, ours, theirs in pairs:
        checked += 1
        if ours != theirs:
            mismatches.append(f"{os.path.basename(path)}: {k} filetrail {ours!r} reference {theirs!r}")
if mismatches:
    sys.exit("outputs differ:\n" + "\n".join(mismatches))

times = {}
for line in open(f"{run}/times"):
    name, wall, user, sys_ = line.split()
    times.setdefault(name, []).append((float(wall), float(user), float(sys_)))

def med(name, k):
    return statistics.median(t[k] for t in times[name])

def spread(name, k):
    v = [t[k] for t in times[name]]
    return f"{min(v):.2f}–{max(v):.2f}"

mb = corpus_bytes / 1e6
rows = [
    ("reference", "scripted pipeline, one file after the other: pefile + ssdeep + tlsh + file, per file"),
    ("reference2", "the same, two files at a time (\`xargs -P 2\`)"),
    ("filetrail", "\`filetrail analyze --jobs $ANALYSIS_JOBS\` (full attribute set, sandboxed)"),
]
ft_wall, ft_user = med("filetrail", 0), med("filetrail", 1)
ft_cpu = statistics.median(t[1] + t[2] for t in times["filetrail"])
lines = []
w = lines.append
w("# Static analysis performance")
w("")
w("Generated by \`bench/analysis.sh\` (do not edit by hand). Every figure comes")
w("from one run of the script on a shared machine that was busy with other")
w("work at the time (see the load averages): compare the rows with each other,")
w("they were measured in the same run, alternating round by round.")
w("")
w(f"## Summary ({mb:.1f} MB, {len(ref)} files, median of {runs} rounds)")
w("")
w("| Run | Wall (s) | User CPU (s) | User + sys CPU (s) | Wall throughput | filetrail's speedup, wall | filetrail's speedup, user CPU |")
w("|---|--:|--:|--:|--:|--:|--:|")
for name, label in rows:
    wall, user = med(name, 0), med(name, 1)
    cpu = statistics.median(t[1] + t[2] for t in times[name])
    if name == "filetrail":
        sw, sc = "", ""
    else:
        sw, sc = f"{wall / ft_wall:.1f}×", f"{user / ft_user:.1f}×"
    w(f"| {label} | {wall:.2f} | {user:.2f} | {cpu:.2f} | {mb / wall:.1f} MB/s | {sw} | {sc} |")
w("")
w("Spread (min–max over the rounds), wall / user CPU in seconds:")
w("")
for name, label in rows:
    w(f"- {name}: wall {spread(name, 0)}, user {spread(name, 1)}")
w("")
w(f"Every round of filetrail printed the same bytes; its md5, sha1, ssdeep,")
w(f"tlsh and imphash equal the reference tools' on every file ({checked} values")
w(f"compared).")
w("")
w("## Run")
w("")
w(f"- Date: $started_at.")
w(f"- Command: \`$COMMAND\`")
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0) / 1048576
w(f"- Machine: {os.cpu_count()} CPUs ({cpu_model}), {mem:.1f} GiB RAM, a shared VM.")
w(f"- Load average (1, 5, 15 min): $load_before before, $load_after after.")
go = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
def ver(cmd):
    r = subprocess.run(["dpkg-query", "-W", "-f", "\${Version}", cmd], capture_output=True, text=True)
    return r.stdout.strip() or "?"
w(f"- Go {go}; reference tools (Debian packages): python3-pefile {ver('python3-pefile')}, "
  f"ssdeep {ver('ssdeep')}, tlsh-tools {ver('tlsh-tools')}, file {ver('file')}, python3 {ver('python3')}.")
w("")
w("## Corpus")
w("")
w("Built by the script with \`GOOS=windows|linux GOARCH=amd64 CGO_ENABLED=0 go build -trimpath\`:")
w("")
w("| File | Bytes |")
w("|---|--:|")
for path in sorted(ref):
    w(f"| {os.path.basename(path)} | {os.path.getsize(path)} |")
w("")
w("## What each run does")
w("")
w("- Scripted pipeline, per file: \`/usr/bin/python3 pe_attrs.py FILE\` (md5, sha1,")
w("  sha256 with hashlib; for files starting with \`MZ\`, pefile's imphash,")
w("  sections with md5 and entropy, overlay offset: pefile only on PE files, as")
w("  pefile takes about a second to reject a 19 MB ELF), \`ssdeep -b FILE\`,")
w("  \`tlsh -f FILE\`, \`file -b FILE\`. Both scripts are kept in")
w(f"  \`{os.path.relpath(os.path.dirname(run))}/\`.")
w("- filetrail: one process over the corpus directory; each sample is read")
w("  once, hashed in the parent (md5, sha1, sha256, ssdeep, tlsh) while a")
w("  sandboxed worker process (CPU, memory and wall-clock limits) runs the")
w("  parsers (libmagic, PE headers and sections, imports, resources, version")
w("  information, signature, ELF, tags).")
w("")
w("## Rounds")
w("")
w("| Round | Run | Wall (s) | User (s) | Sys (s) |")
w("|--:|---|--:|--:|--:|")
for name, _ in rows:
    for i, (wall, user, sys_) in enumerate(times[name], 1):
        w(f"| {i} | {name} | {wall:.2f} | {user:.2f} | {sys_:.2f} |")
w("")
w(f"Raw outputs: \`{os.path.relpath(run)}/\`.")
os.makedirs(os.path.dirname(os.path.abspath(report)), exist_ok=True)
open(report, "w").write("\n".join(lines) + "\n")
print("\n".join(lines[:20]))
EOF
log "done: $ANALYSIS_REPORT"
