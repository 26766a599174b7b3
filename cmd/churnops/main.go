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
	"runtime/debug"
	"slices"
	"syscall"
)

func main() {
	// The first SIGINT or SIGTERM cancels ctx: every long step (reading a
	// month, training rounds, drift, the executor, the server) stops at its
	// next check and the command exits 1, its state consistent. A second
	// one kills the process at once (the handler is gone by then).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// defaultMemoryLimit is the CLI's soft heap limit unless GOMEMLIMIT sets
// one: the garbage collector then runs sooner once the heap nears it,
// instead of letting a heap of live data L grow to 2L between collections.
// A whole loop on a month of 10 million customers (`run --incoming`: two
// shards built at once, then a training on a million-customer sample)
// stays within 2 GB of RSS; its live data stays well below the limit, so
// the collector does not thrash (measured: make bench-scale).
const defaultMemoryLimit = 1536 << 20

// command is one command of the CLI, with its help next to it: every
// command must have a synopsis (args), a one-line summary and an example;
// TestHelp fails for one that does not.
type command struct {
	name string
	// args is the synopsis after "churnops NAME": the required flags and
	// arguments, e.g. "--data MONTH_DIR --as-of DATE". Help prints
	// "Usage: churnops NAME ARGS [flags]".
	args    string
	summary string // one line: what it does
	details string // optional: more, for --help
	example string // one or more command lines, each starting with "churnops NAME"
	run     func(ctx context.Context, a *app, args []string) error
	// subs are the subcommands of a command that has them (registry,
	// model); their run is nil: the parent's run dispatches them.
	subs []command
	// flags, for a subcommand that shares its parent's flags, names the
	// parent's own flags that apply to it (nil: all of its flags apply).
	flags []string
}

func commands() []command {
	return []command{
		{name: "demo", args: "[--dir DIR]", summary: "generate months, ingest them and run the whole loop (promote, skip, no drift), then predict",
			details: "Works in a new temporary directory, or in --dir DIR, which must be empty or absent. Prints where the drift reports and the dashboard are.",
			example: "churnops demo --dir /tmp/churnops-demo", run: cmdDemo},
		{name: "gen", args: "--out DIR --months N", summary: "write realistic month snapshots in the lab's layout",
			details: "Writes month_000, month_001, … in the lab's CSV layout; the same seed gives the same bytes. --drift injects drift into chosen months. " +
				"Months are streamed (10,000,000 users in about 1.5 GB); --parts N, --gzip and --incoming (incoming/as_of=D/… with a _SUCCESS marker) write the layouts a month lands in a bucket with.",
			example: "churnops gen --out data --months 4 --drift 2:feature,3:label\nchurnops gen --out big --months 2 --users 10000000 --parts 8 --gzip --incoming", run: cmdGen},
		{name: "ingest", args: "--data MONTH_DIR --as-of DATE", summary: "validate and store a month in shards; publish its online features",
			details: "The sharded ingest's steps (plan, partition each file, build each shard, commit), in this process on the machine's cores: a month is stored in ceil(customers/--shard-rows) shards, with its drift summary and, when larger than --row-budget, its training sample. " +
				"Validation errors name the file, line and column, and nothing is stored then. Re-ingesting the same data is a no-op; different data for a stored date is refused.",
			example: "churnops ingest --data ../shared/data/streamflow/month_000 --as-of 2024-01-31\nchurnops ingest --data big/month_001 --as-of 2024-02-29 --shard-rows 250000", run: cmdIngest},
		{name: "dataset", args: "SUBCOMMAND [AS_OF]", summary: "list the stored months; remove one (its dataset and online features)",
			details: "rm deletes the month's manifest first (so it is no longer visible), then its files and its online-feature version; if that version is served, the newest remaining month is served instead. A month that a registered model was trained on is refused unless --force.",
			example: "churnops dataset list\nchurnops dataset rm 2999-12-31", run: cmdDataset, subs: []command{
				{name: "list", summary: "every stored month: rows, shards, online-feature version, the models trained on it", example: "churnops dataset list --json", flags: []string{}},
				{name: "rm", args: "AS_OF", summary: "remove a stored month and its online features", example: "churnops dataset rm 2999-12-31", flags: []string{"force"}},
			}},
		{name: "drift", args: "--reference DIR --current DIR --out OUT", summary: "compare two month directories; write drift.json and drift.html",
			example: "churnops drift --reference data/month_000 --current data/month_001 --out out/drift", run: cmdDrift},
		{name: "train", args: "--data MONTH_DIR --as-of DATE --out OUT", summary: "train a model on a month directory; write model, metrics, validation predictions",
			example: "churnops train --data data/month_000 --as-of 2024-01-31 --out out/train", run: cmdTrain},
		{name: "evaluate", args: "--model FILE --data MONTH_DIR --as-of DATE --out OUT", summary: "score a model artifact on a month's validation users",
			example: "churnops evaluate --model out/train/model.json --data data/month_001 --as-of 2024-02-29 --out out/eval", run: cmdEvaluate},
		{name: "run", args: "--reference-as-of D1 --current-as-of D2 | --incoming DIR_OR_KEY", summary: "one execution of the retraining state machine: [ingest,] drift, train, evaluate, decide, score",
			details: "Prints each state as it completes (a Map state's progress as items finish), then where the run's drift report and the dashboard are. The execution is recorded under reports/executions/ in the state. " +
				`"previous" and "latest" work as dates. With --incoming the run ingests a month first (a directory, or a prefix or _SUCCESS marker key in the state's blobs: the input the EventBridge rule gives on AWS) and compares it with the month before. ` +
				"After every decision the current month is scored with the Production model. With --require-approval the run pauses before promoting and prints the commands that approve or reject it.",
			example: "churnops run --reference-as-of 2024-01-31 --current-as-of 2024-02-29\nchurnops run --reference-as-of previous --current-as-of latest --require-approval\nchurnops run --incoming data/month_003 --as-of 2024-04-30", run: cmdRun},
		{name: "score", args: "--as-of DATE", summary: "score every customer of a stored month with Production (or --version N): Parquet under scores/, a summary for the dashboard",
			details: "Shard by shard on the machine's cores, through the steps of the state machine's ScoreShards Map; --backend aws scores a month of the bucket.",
			example: "churnops score --as-of 2024-04-30\nchurnops score --as-of 2024-04-30 --version 2 --contributions", run: cmdScore},
		{name: "invoke", args: "FUNCTION --event JSON|@FILE", summary: "run one pipeline step (drift, train, evaluate, compare, ingest, score) on the state with a Lambda event",
			details: "What the step's Lambda function does with the event, in this process on the state's stores: one step alone, to time it (make bench-scale) or redo it by hand. Prints the function's JSON result.",
			example: "churnops invoke drift --event '{\"reference_as_of\":\"2024-01-31\",\"current_as_of\":\"2024-02-29\",\"threshold\":0.02}'\nchurnops invoke train --event @events/train.json", run: cmdInvoke},
		{name: "registry", args: "SUBCOMMAND [ARG]", summary: "inspect and change the model registry",
			details: "Promotions are atomic and conditioned on the current Production version.",
			example: "churnops registry list", run: cmdRegistry, subs: []command{
				{name: "list", summary: "every version: stage, as_of, AUC, F1, created, decision", example: "churnops registry list --json", flags: []string{}},
				{name: "show", args: "V", summary: "one version: artifact, data fingerprint, metrics, decision", example: "churnops registry show v2", flags: []string{}},
				{name: "promote", args: "V", summary: "make version V Production by hand (the current one is archived)", example: "churnops registry promote 2", flags: []string{}},
				{name: "rollback", summary: "bring back the most recently archived version", example: "churnops registry rollback", flags: []string{}},
				{name: "approvals", summary: "the executions waiting for approval, with their tokens", example: "churnops registry approvals", flags: []string{}},
				{name: "approve", args: "TOKEN", summary: "resume the execution waiting on TOKEN: its candidate is promoted", example: "churnops registry approve TOKEN --state /home/me/.churnops", flags: []string{}},
				{name: "reject", args: "TOKEN", summary: "resume the execution waiting on TOKEN: its candidate is rejected", example: `churnops registry reject TOKEN --reason "not before the campaign ends"`, flags: []string{"reason"}},
			}},
		{name: "model", args: "SUBCOMMAND", summary: "export a registered model version (XGBoost JSON), or explain a month's customers with it",
			example: "churnops model export --version production --format xgboost-json --out model.json", run: cmdModel, subs: []command{
				{name: "export", args: "--version N --out FILE", summary: "write a version in another format (xgboost-json: XGBoost's JSON model format)",
					details: "Refuses an existing --out without --force, and a model trained before covers were recorded (retrain it).",
					example: "churnops model export --version production --format xgboost-json --out model.json"},
				{name: "explain", args: "--version N --data MONTH_DIR --as-of DATE --out FILE.csv", summary: "every customer's churn probability, log-odds and per-feature contributions (TreeSHAP) for a month",
					example: "churnops model explain --version 3 --data data/month_003 --as-of 2024-04-30 --out reasons.csv"},
			}},
		{name: "predict", args: "--user-id ID", summary: "score one user with the Production model and the online features",
			details: "--include features adds features_used, the customer's values, and --include reasons the features that moved the prediction most (--reasons-k of them, 3 by default), as POST /predict/details does.",
			example: "churnops predict --user-id 7590-VHVEG\nchurnops predict --user-id 7590-VHVEG --include features,reasons --reasons-k 5", run: cmdPredict},
		{name: "serve", args: "[--addr HOST:PORT]", summary: "serve POST /predict, /predict/details, /health, /ready, /model, /metrics, and the dashboard at /",
			details: "The dashboard (GET /) and the reports it links to (GET /reports/…, read-only) are served through the same handler as the API. " +
				"Promotions and rollbacks are served within --reload, without a restart. With a token (--token-file or $CHURNOPS_TOKEN) every route but /health needs Authorization: Bearer <token>; without one, serve listens on loopback only.",
			example: "churnops serve --addr 127.0.0.1:8000   # then open http://127.0.0.1:8000/", run: cmdServe},
		{name: "check", args: "[--repair]", summary: "verify the state (registry, artifacts, datasets, approvals) like git fsck; exit 1 on problems",
			details: "Checks at most one Production version, every version's artifact against its SHA-256, the datasets versions were trained on, files no version owns, and paused approvals. " +
				"--repair fixes only what cannot lose data (marks orphaned candidates and unanswerable approvals, releases dead claims); anything younger than $CHURNOPS_ORPHAN_GRACE (15m) is reported, not repaired.",
			example: "churnops check\nchurnops check --repair", run: cmdCheck},
	}
}

// Main runs churnops with args (without the program name) and returns the
// process exit code: 0 on success, 1 on failure, 2 on a usage error.
// `churnops help X …` is `churnops X … --help`.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return 0
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "-version", "--version":
		fmt.Fprintln(stdout, versionText())
		return 0
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		args = append(slices.Clone(args[1:]), "--help")
	}
	path := lookup(args)
	if path == nil {
		fmt.Fprintf(stderr, "churnops: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	c := path[0]
	if len(c.subs) > 0 && len(path) == 1 && wantsHelp(args[1:]) {
		printHelp(stdout, path, nil)
		return 0
	}
	a := newApp(stdout, stderr)
	defer a.close()
	err := c.run(ctx, a, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, path, a.fs)
		return 0
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(stderr, "churnops %s: %v\n%s\nRun 'churnops help %s' for its flags and an example.\n", c.name, err, synopsis(path), pathName(path))
		return 2
	default:
		fmt.Fprintf(stderr, "churnops %s: %v\n", c.name, err)
		return 1
	}
}

// lookup finds the command args name: the command, then its subcommand
// when args[1] names one. nil when args[0] is no command.
func lookup(args []string) []command {
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		if len(args) > 1 {
			for _, s := range c.subs {
				if s.name == args[1] {
					return []command{c, s}
				}
			}
		}
		return []command{c}
	}
	return nil
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "churnops — watch, retrain, promote and serve the StreamFlow churn model")
	fmt.Fprintln(w, "\nUsage: churnops COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'churnops help COMMAND' (or 'churnops COMMAND --help') for a command's flags and an example,")
	fmt.Fprintln(w, "and 'churnops --version' for the version.")
	fmt.Fprintln(w, "\nState: --state DIR (default .churnops, or $CHURNOPS_STATE) holds datasets, models, reports and the registry.")
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }
