# shellcheck shell=bash
# Shell functions shared by the bench scripts; source it after defining
# die (each script prefixes its own messages).

# exact_command PREFIX SCRIPT: the command line that reproduces this run:
# the PREFIX* environment settings given, shell-quoted, then SCRIPT.
exact_command() {
	local v out=""
	for v in $(compgen -e | grep "^$1" | sort); do
		out+="$v=$(printf %q "${!v}") "
	done
	echo "$out$2"
}

# free_port: a TCP port no one listens on, on loopback.
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if [ -z "$(ss -Htln "sport = :$p")" ]; then
			echo "$p"
			return 0
		fi
	done
	die "no free loopback port"
}

# stop_pids PID...: TERM each process, KILL those still running 10 s later,
# and reap them.
stop_pids() {
	local pid
	for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# tree_commit: the checkout's short commit, marked when the working tree
# differs from it. Call it when the binaries are built: the tree may change
# while a long run goes on.
tree_commit() {
	echo "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
}
