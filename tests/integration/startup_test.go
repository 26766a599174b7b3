//go:build integration

package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// initRuns is how many cold starts TestInitDuration measures per function.
const initRuns = 3

// initTimeout bounds one init: far above a Go binary's, short enough to
// report a hang.
const initTimeout = 20 * time.Second

// TestInitDuration measures each deployed binary's init as Lambda defines
// it — from process start to its first request for an event
// (GET /2018-06-01/runtime/invocation/next) — by running the bootstrap SAM
// built against a stub Runtime API, with exactly the environment the
// template gives the function (read back with GetFunctionConfiguration)
// plus what Lambda and the emulator add. MiniStack's REPORT lines carry no
// Init Duration, and its first-invoke round trip is dominated by the
// emulator. Init must also succeed: a function deployed without a variable
// it needs fails here (log.Fatalf at cold start) instead of on a request.
// It runs after TestRetrainLoop (file order), so PredictFunction's init
// includes loading the Production model from S3.
func TestInitDuration(t *testing.T) {
	f := shared(t)
	functions := []string{"DriftFunction", "TrainFunction", "EvaluateFunction", "CompareFunction", "PredictFunction", "IngestFunction", "ScoreFunction", "ReportFunction"}
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			cfg, err := f.lambda.GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(f.functions[fn])})
			if err != nil {
				t.Fatalf("GetFunctionConfiguration: %v", err)
			}
			env := []string{
				"AWS_LAMBDA_FUNCTION_NAME=" + aws.ToString(cfg.FunctionName),
				"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
				"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(int(aws.ToInt32(cfg.MemorySize))),
				"_HANDLER=" + aws.ToString(cfg.Handler),
				"AWS_REGION=" + f.cfg.Region, "AWS_DEFAULT_REGION=" + f.cfg.Region,
				"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
				"AWS_ENDPOINT_URL=" + os.Getenv("AWS_ENDPOINT_URL"),
			}
			if cfg.Environment != nil {
				for k, v := range cfg.Environment.Variables {
					env = append(env, k+"="+v)
				}
			}
			bin := filepath.Join(f.workDir, "sam-build", fn, "bootstrap")
			var ds []time.Duration
			for range initRuns {
				d, err := measureInit(t.Context(), bin, env)
				if err != nil {
					t.Fatalf("init: %v", err)
				}
				ds = append(ds, d)
			}
			slices.Sort(ds)
			median := ds[len(ds)/2]
			t.Logf("init %v (median of %v)", median.Round(100*time.Microsecond), ds)
			f.record(fmt.Sprintf("init %s (median of %d, stub Runtime API)", fn, initRuns), median)
		})
	}
}

// measureInit starts bin with env against a stub Lambda Runtime API and
// returns the time until it asks for its first event; it then kills it.
func measureInit(ctx context.Context, bin string, env []string) (time.Duration, error) {
	asked := make(chan time.Time, 1)
	initErr := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/runtime/invocation/next"):
			select {
			case asked <- time.Now():
			default:
			}
			<-r.Context().Done() // hold the poll until the process is killed
		case strings.HasSuffix(r.URL.Path, "/runtime/init/error"):
			body, _ := io.ReadAll(r.Body)
			select {
			case initErr <- string(body):
			default:
			}
			w.WriteHeader(http.StatusAccepted)
		default:
			http.NotFound(w, r)
		}
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	defer srv.CloseClientConnections()

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(slices.Clone(env), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var (
		d       time.Duration
		failure string
	)
	select {
	case at := <-asked:
		d = at.Sub(start)
	case msg := <-initErr:
		failure = "reported an init error: " + msg
	case err := <-exited:
		failure = fmt.Sprintf("exited during init (%v)", err)
		exited <- err
	case <-time.After(initTimeout):
		failure = fmt.Sprintf("did not ask for an event within %v", initTimeout)
	}
	_ = cmd.Process.Kill()
	<-exited // output fully copied from here on
	if failure != "" {
		return 0, fmt.Errorf("%s %s:\n%s", bin, failure, tail(out.String(), 20))
	}
	return d, nil
}
