// Command churnops runs the StreamFlow churn-model loop on a laptop — data
// generation, ingest, drift, training, the retraining state machine, the
// model registry and the /predict service — on the embedded default (one
// state directory, no cloud, no Docker), or against AWS with --backend aws.
//
// Run `churnops help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first SIGINT or SIGTERM cancels ctx: every long step (reading a
	// month, training rounds, drift, the executor, the server) stops at its
	// next check and the command exits 1, its state consistent. A second
	// one kills the process at once (the handler is gone by then).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, a *app, args []string) error
}

func commands() []command {
	return []command{
		{"demo", "demo [--dir DIR]", "generate months, ingest them and run the whole loop (promote, skip, no drift), then predict", cmdDemo},
		{"gen", "gen --out DIR --months N [--seed S] [--drift 1:feature,2:label]", "write realistic month snapshots in the lab's layout", cmdGen},
		{"ingest", "ingest --data MONTH_DIR --as-of DATE", "validate and store a month; materialize its online features", cmdIngest},
		{"drift", "drift --reference DIR --current DIR --out OUT [--threshold 0.02]", "compare two month directories; write drift.json and drift.html", cmdDrift},
		{"train", "train --data MONTH_DIR --as-of DATE --out OUT [--seed 42]", "train a model on a month directory; write model, metrics, validation predictions", cmdTrain},
		{"evaluate", "evaluate --model FILE --data MONTH_DIR --as-of DATE --out OUT", "score a model artifact on a month's validation users", cmdEvaluate},
		{"run", "run --reference-as-of D1 --current-as-of D2 [--threshold 0.02] [--delta 0.01] [--require-approval]", "one execution of the retraining state machine on ingested months", cmdRun},
		{"registry", "registry list|show V|promote V|rollback|approvals|approve TOKEN|reject TOKEN", "inspect and change the model registry", cmdRegistry},
		{"predict", "predict --user-id ID", "score one user with the Production model and the online features", cmdPredict},
		{"serve", "serve [--addr 127.0.0.1:8000] [--reload 5s]", "serve POST /predict, /health, /ready, /model, /metrics", cmdServe},
		{"check", "check [--repair]", "verify the state (registry, artifacts, datasets, approvals); exit 1 on problems; --repair fixes what is safe", cmdCheck},
	}
}

// Main runs churnops with args (without the program name) and returns the
// process exit code: 0 on success, 1 on failure, 2 on a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		a := newApp(stdout, stderr)
		defer a.close()
		err := c.run(ctx, a, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(*usageError)):
			fmt.Fprintf(stderr, "churnops %s: %v\nusage: churnops %s\n", c.name, err, c.usage)
			return 2
		default:
			fmt.Fprintf(stderr, "churnops %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "churnops: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "churnops — watch, retrain, promote and serve the StreamFlow churn model")
	fmt.Fprintln(w, "\nUsage: churnops COMMAND [flags]   (churnops COMMAND -h for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nState: --state DIR (default .churnops, or $CHURNOPS_STATE) holds datasets, models, reports and the registry.")
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }
