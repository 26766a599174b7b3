package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/asl"
)

// invokable are the functions `churnops invoke` runs: the pipeline steps
// the state machine's Tasks call, by their Lambda function's name.
var invokable = []string{"drift", "train", "evaluate", "compare", "ingest", "score"}

// cmdInvoke runs one step of the pipeline on the stored state with a JSON
// event, exactly as its Lambda function would (`sam local invoke` without
// Docker, on the state's stores): one step in its own process, for
// measuring it alone (make bench-scale) or redoing it by hand.
func cmdInvoke(ctx context.Context, a *app, args []string) error {
	fs := a.flags("invoke")
	event := fs.String("event", "", "the event: JSON, or @FILE (events/*.json are samples)")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	fn := fs.Arg(0)
	if !slices.Contains(invokable, fn) {
		return usagef("invoke %q: want one of %s", fn, strings.Join(invokable, ", "))
	}
	if err := required(fs, "event"); err != nil {
		return err
	}
	raw := []byte(*event)
	if name, ok := strings.CutPrefix(*event, "@"); ok {
		var err error
		if raw, err = os.ReadFile(name); err != nil {
			return usagef("--event: %v", err)
		}
	}
	if !json.Valid(raw) {
		return usagef("--event is not JSON")
	}
	a.createsState = fn == "ingest" // as `churnops ingest` may start a state
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	p := a.pipeline(st)
	handlers := map[string]asl.Handler{
		"drift": asl.NewHandler(p.Drift), "train": asl.NewHandler(p.Train), "evaluate": asl.NewHandler(p.Evaluate),
		"compare": asl.NewHandler(p.Compare), "ingest": asl.NewHandler(p.IngestStep), "score": asl.NewHandler(p.ScoreStep),
	}
	start := time.Now()
	out, err := handlers[fn](ctx, raw)
	if err != nil {
		return fmt.Errorf("%s: %s", asl.ErrorName(err), err)
	}
	if !a.json && !a.quiet {
		fmt.Fprintf(a.stderr, "churnops invoke %s: %s\n", fn, seconds(time.Since(start)))
	}
	var pretty any
	if err := json.Unmarshal(out, &pretty); err != nil {
		return err
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(pretty)
}
