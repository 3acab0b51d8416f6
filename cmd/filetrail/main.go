// Command filetrail runs the filetrail server and its administration
// commands: serve, keys, ingest, demo, migrate and version. Every flag can
// also be set with a FILETRAIL_* environment variable (see --help).
//
// Exit status: 0 on success; 1 when ingest rejected some records (the
// others were ingested); 2 on a usage error or any failure.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/filetrail/filetrail/vtapi"
)

// Exit codes.
const (
	exitOK       = 0
	exitRejects  = 1 // ingest: some records were rejected
	exitFailure  = 2 // usage error or failure
	appName      = "filetrail"
	envPrefix    = "FILETRAIL_"
	defaultStore = "filetrail.db"
)

// cli is the command line. Every flag has an env tag: TestEveryFlagHasEnv
// keeps it so.
type cli struct {
	LogFormat string `help:"Log format: text or json." enum:"text,json" default:"text" env:"FILETRAIL_LOG_FORMAT"`
	LogLevel  string `help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error" default:"info" env:"FILETRAIL_LOG_LEVEL"`

	Serve   serveCmd   `cmd:"" help:"Serve the VirusTotal API v3 compatible API."`
	Keys    keysCmd    `cmd:"" help:"Manage API keys."`
	Ingest  ingestCmd  `cmd:"" help:"Ingest evidence files (sightings, VT reports) into the store."`
	Demo    demoCmd    `cmd:"" help:"Load the bundled sample data into a fresh store, create keys and serve."`
	Migrate migrateCmd `cmd:"" help:"Apply the store's schema migrations and print its schema version."`
	Analyze analyzeCmd `cmd:"" help:"Analyse sample files and print one VT File object per line (no server, no store)."`
	Worker  workerCmd  `cmd:"" name:"analyze-worker" hidden:"" help:"Internal: sandboxed analysis worker."`
	Version versionCmd `cmd:"" help:"Print the version, commit and Go version."`
}

// app is what every command runs with.
type app struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// analyze serves sample uploads (set by serve); nil disables them.
	analyze     vtapi.AnalyzeFunc
	uploadLimit int64 // largest sample uploads accept; 0 = API default
}

// exitError carries an exit status other than exitFailure.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// kongExit is what kong's Exit hook panics with, to unwind to run.
type kongExit int

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args and runs the command, returning the exit status. The
// context ends the long-running commands (serve, demo) gracefully.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name(appName),
		kong.Description("filetrail answers \"which files were downloaded from this IP address?\" over a VirusTotal API v3 compatible API."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(kongExit(code)) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{"formats": strings.Join(ingestFormats()[1:], ", "), "default_store": defaultStore},
	)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", appName, err)
		return exitFailure
	}
	defer func() {
		if r := recover(); r != nil {
			k, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			code = int(k)
			if code != exitOK {
				code = exitFailure
			}
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", appName, err)
		help := appName + " --help"
		var pe *kong.ParseError
		if errors.As(err, &pe) && pe.Context != nil && pe.Context.Command() != "" {
			help = appName + " " + stripPlaceholders(pe.Context.Command()) + " --help"
		}
		fmt.Fprintf(stderr, "Run %q for usage.\n", help)
		return exitFailure
	}
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, log: newLogger(stderr, c.LogFormat, c.LogLevel)}
	err = kctx.Run(a)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.code != exitRejects {
			fmt.Fprintf(stderr, "%s: %v\n", appName, ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "%s: %v\n", appName, err)
	return exitFailure
}

// newLogger returns the process logger: text or JSON lines on w.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level)) // kong's enum already checked it
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// stripPlaceholders drops the <arg> placeholders of a kong command path
// ("keys revoke <id-or-name>" -> "keys revoke").
func stripPlaceholders(cmd string) string {
	var words []string
	for _, w := range strings.Fields(cmd) {
		if !strings.HasPrefix(w, "<") {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}
