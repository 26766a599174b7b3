//go:build integration

package integration_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/churnops/churnops/internal/awsemu/awsemutest"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/dynamo"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/s3store"
	"github.com/churnops/churnops/internal/synth"
)

// The generated months: seeded so that, with the lab's threshold and delta,
// the three consecutive pairs tell the demo's story on the local executor
// (no drift; a feature shift whose retrained candidate does not clear the
// bar; a label shift whose candidate does). With 3,000 users the skip has a
// margin of about 0.02 AUC, the promotion about 0.2.
const (
	synthUsers = 3000
	synthSeed  = 1
)

var synthDrift = map[int]synth.Drift{2: synth.FeatureShift, 3: synth.LabelShift}

// setupTimeout bounds deploying the stack and ingesting the months; a cold
// SAM CLI install (scripts/sam.sh) alone takes ~5 minutes.
const setupTimeout = 15 * time.Minute

// fixture is what every test shares: one deployment of template.yaml and
// the generated months, ingested into it. Deploying takes half a minute, so
// it happens once, on first use; TestMain tears it down.
type fixture struct {
	root    string // repository root
	id      string // unique suffix of every name this run creates
	workDir string // SAM build directory, generated months

	cfg    aws.Config
	s3     *s3.Client
	ddb    *dynamodb.Client
	sfn    *sfn.Client
	cfn    *cloudformation.Client
	lambda *lambda.Client

	artifactsBucket string // sam deploy --s3-bucket
	builtTemplate   string // sam build's template, what every deploy deploys
	stackName       string
	stackCreated    bool

	// From the stack's outputs and resources.
	bucket          string
	registryTable   string
	featuresTable   string
	stateMachineArn string
	apiID           string
	functions       map[string]string // logical ID -> function name

	months []month

	// The predict-only IAM user (auth_test.go), made on first use.
	iamOnce   sync.Once
	iamCaller caller
	iamErr    error
	iamUser   string
	iamKeyID  string

	// retrained is the state of TestRetrainLoop's local executor once its
	// runs succeeded: TestUploadedMonth compares the next month with it.
	retrained string

	mu            sync.Mutex
	timings       []timing
	notes         []string
	coldStart     []coldStart
	predictProbed bool
}

// month is one generated, ingested month.
type month struct {
	AsOf  string
	Dir   string
	Users []string // user_ids in file order
}

type timing struct {
	what string
	d    time.Duration
}

// record notes a duration for the summary TestMain prints.
func (f *fixture) record(what string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timings = append(f.timings, timing{what, d})
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

// shared returns the deployed fixture, deploying it on first use, or skips
// the test when no emulator endpoint is configured.
func shared(t *testing.T) *fixture {
	t.Helper()
	awsemutest.RequireEndpoint(t)
	fixOnce.Do(func() {
		fix = &fixture{}
		fixErr = fix.setUp(t)
	})
	if fixErr != nil {
		t.Fatalf("deploy the stack on the emulator: %v", fixErr)
	}
	return fix
}

func TestMain(m *testing.M) {
	start := time.Now()
	code := m.Run()
	if fix != nil {
		fix.record("suite (setup, tests)", time.Since(start))
		if err := fix.tearDown(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: tear down: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		fix.printSummary()
	}
	os.Exit(code)
}

// setUp deploys the template and ingests the months. Whatever it created is
// recorded on f before the next step, so tearDown removes it even when a
// later step fails.
func (f *fixture) setUp(t *testing.T) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	var err error
	if f.root, err = repoRoot(); err != nil {
		return err
	}
	f.cfg, err = config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	if f.cfg.Region == "" {
		f.cfg.Region = "us-east-1"
	}
	f.s3 = s3store.NewClient(f.cfg)
	f.ddb = dynamo.NewClient(f.cfg)
	f.sfn = sfn.NewFromConfig(f.cfg)
	f.cfn = cloudformation.NewFromConfig(f.cfg)
	f.lambda = lambda.NewFromConfig(f.cfg)

	f.id = fmt.Sprintf("%x%x", time.Now().Unix(), os.Getpid()%4096)
	if f.workDir, err = os.MkdirTemp("", "churnops-it-"); err != nil {
		return err
	}
	f.artifactsBucket = "churnops-it-sam-" + f.id
	if err := s3store.CreateBucket(ctx, f.s3, f.artifactsBucket); err != nil {
		return fmt.Errorf("create the SAM artifacts bucket: %w", err)
	}

	buildDir := filepath.Join(f.workDir, "sam-build")
	t.Logf("setup: sam build (LAMBDA_ARCH=%s, Makefile build-<LogicalId> targets) into %s", runtime.GOARCH, buildDir)
	start := time.Now()
	if _, err := f.sam(ctx, "build", "--build-in-source", "--build-dir", buildDir,
		"--cache-dir", filepath.Join(f.workDir, "sam-cache"), "--template-file", "template.yaml"); err != nil {
		return err
	}
	f.record("sam build", time.Since(start))
	for _, fn := range []string{"DriftFunction", "TrainFunction", "EvaluateFunction", "CompareFunction", "PredictFunction", "IngestFunction", "ScoreFunction", "ReportFunction"} {
		if st, err := os.Stat(filepath.Join(buildDir, fn, "bootstrap")); err == nil {
			f.notes = append(f.notes, fmt.Sprintf("%s bootstrap (sam build, linux/%s): %.1f MB", fn, runtime.GOARCH, float64(st.Size())/1e6))
		} else {
			return fmt.Errorf("sam build left no bootstrap for %s: %w", fn, err)
		}
	}

	f.builtTemplate = filepath.Join(buildDir, "template.yaml")
	f.stackName = "churnops-it-" + f.id
	t.Logf("setup: sam deploy --stack-name %s (Architecture=%s, ApiAuth default: AWS_IAM)", f.stackName, lambdaArchitecture())
	start = time.Now()
	f.stackCreated = true // from here on a (partial) stack may exist
	// deploy sets a short reload interval: /predict must serve a promotion
	// within it.
	if _, err := f.deploy(ctx, f.stackName, uploadParams...); err != nil {
		return err
	}
	f.record("sam deploy", time.Since(start))
	if err := f.readStack(ctx); err != nil {
		return err
	}
	t.Logf("setup: stack %s: bucket %s, tables %s / %s, API %s, state machine %s",
		f.stackName, f.bucket, f.registryTable, f.featuresTable, f.apiID, f.stateMachineArn)

	f.probeColdStarts(ctx)

	t.Logf("setup: generate %d months of %d users (seed %d) and ingest them", 4, synthUsers, synthSeed)
	start = time.Now()
	if err := f.seed(ctx, t); err != nil {
		return err
	}
	f.record("generate + ingest 4 months", time.Since(start))
	return nil
}

// sam runs the pinned SAM CLI (scripts/sam.sh installs it on first use) in
// the repository root, building the bootstraps for the host: MiniStack runs
// them as host processes, whatever Architecture the function declares.
func (f *fixture) sam(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(f.root, "scripts", "sam.sh"), args...)
	cmd.Dir = f.root
	cmd.Env = append(os.Environ(), "LAMBDA_ARCH="+runtime.GOARCH, "AWS_DEFAULT_REGION="+f.cfg.Region, "SAM_CLI_TELEMETRY=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("sam %s: %w\n%s", args[0], err, tail(string(out), 60))
	}
	return string(out), nil
}

// lambdaArchitecture is the template's Architecture parameter for this host.
func lambdaArchitecture() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

var apiIDInURL = regexp.MustCompile(`^https://([a-z0-9]+)\.execute-api\.`)

// readStack reads the stack's outputs (the names the functions get from the
// template) and its function resources.
func (f *fixture) readStack(ctx context.Context) error {
	outputs, err := f.stackOutputs(ctx, f.stackName)
	if err != nil {
		return err
	}
	for key, dst := range map[string]*string{
		"DataBucketName":    &f.bucket,
		"RegistryTableName": &f.registryTable,
		"FeaturesTableName": &f.featuresTable,
		"StateMachineArn":   &f.stateMachineArn,
	} {
		if *dst = outputs[key]; *dst == "" {
			return fmt.Errorf("stack %s has no output %s (outputs: %v)", f.stackName, key, outputs)
		}
	}
	m := apiIDInURL.FindStringSubmatch(outputs["PredictUrl"])
	if m == nil {
		return fmt.Errorf("stack output PredictUrl %q does not name a REST API", outputs["PredictUrl"])
	}
	f.apiID = m[1]

	res, err := f.cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: &f.stackName})
	if err != nil {
		return fmt.Errorf("describe stack resources: %w", err)
	}
	f.functions = map[string]string{}
	for _, r := range res.StackResources {
		if aws.ToString(r.ResourceType) == "AWS::Lambda::Function" {
			f.functions[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
		}
	}
	if len(f.functions) != 8 {
		return fmt.Errorf("stack %s has %d functions, want 8: %v", f.stackName, len(f.functions), f.functions)
	}
	return nil
}

// stackOutputs reads a stack's outputs.
func (f *fixture) stackOutputs(ctx context.Context, name string) (map[string]string, error) {
	out, err := f.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) != 1 {
		return nil, fmt.Errorf("describe stack %s: %d stacks", name, len(out.Stacks))
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs, nil
}

// seed generates the months into the work directory and ingests them into
// the stack's bucket and tables as `churnops ingest --backend aws` does:
// the pipeline's Ingest on S3 and DynamoDB, reading the lab's CSV layout.
func (f *fixture) seed(ctx context.Context, t *testing.T) error {
	dataDir := filepath.Join(f.workDir, "data")
	run, err := synth.GenerateToDir(dataDir, synth.Config{Users: synthUsers, Months: 4, Seed: synthSeed, Drift: synthDrift}, synth.WriteOptions{})
	if err != nil {
		return fmt.Errorf("generate months: %w", err)
	}
	p := f.awsPipeline()
	for i, m := range run.Months {
		mo := month{AsOf: m.AsOf.Format("2006-01-02"), Dir: filepath.Join(dataDir, synth.MonthDir(i))}
		for _, c := range m.Customers {
			mo.Users = append(mo.Users, c.UserID)
		}
		out, err := p.Ingest(ctx, pipeline.Incoming{Dir: mo.Dir, AsOf: mo.AsOf}, pipeline.IngestOptions{})
		if err != nil {
			return fmt.Errorf("ingest %s: %w", mo.Dir, err)
		}
		if out.DatasetKey != dataset.ManifestKey(mo.AsOf) || out.Rows != len(mo.Users) || out.OnlineFeatures != out.Rows {
			return fmt.Errorf("ingest %s: got %+v, want %d rows and online features under %s", mo.Dir, out, len(mo.Users), dataset.ManifestKey(mo.AsOf))
		}
		t.Logf("setup: ingested %s as_of=%s: %d rows, %d churners -> s3://%s/%s", synth.MonthDir(i), mo.AsOf, out.Rows, out.Churners, f.bucket, out.DatasetKey)
		f.months = append(f.months, mo)
	}
	return nil
}

// awsPipeline is the pipeline on the stack's stores, wired like awsbackend
// wires the functions (minus its JSON logger).
func (f *fixture) awsPipeline() *pipeline.Pipeline {
	return &pipeline.Pipeline{
		Blobs:     s3store.New(f.s3, f.bucket),
		Registry:  dynamo.NewRegistry(f.ddb, f.registryTable),
		Features:  dynamo.NewFeatureStore(f.ddb, f.featuresTable),
		LocalDirs: true, // the generated months, as `churnops ingest --backend aws` reads them
	}
}

// tearDown deletes what setUp created: the data bucket (emptied of every
// version first: CloudFormation refuses to delete a non-empty bucket), the
// stack, the tables it retains, the SAM artifacts bucket and the work
// directory.
func (f *fixture) tearDown() error {
	if os.Getenv("CHURNOPS_IT_KEEP") != "" {
		fmt.Printf("integration: CHURNOPS_IT_KEEP is set; keeping stack %s, bucket %s, work dir %s\n", f.stackName, f.artifactsBucket, f.workDir)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errs []error
	if f.bucket != "" {
		errs = append(errs, deleteBucket(ctx, f, f.bucket))
	}
	if f.stackCreated {
		start := time.Now()
		errs = append(errs, f.deleteStackNamed(ctx, f.stackName))
		f.record("delete stack", time.Since(start))
	}
	// The template retains the registry table when the stack goes away
	// (DeletionPolicy: Retain); the test's copy must go too.
	errs = append(errs, deleteTables(ctx, f, []string{f.registryTable, f.featuresTable}))
	errs = append(errs, f.deletePredictOnlyUser(ctx))
	if f.artifactsBucket != "" && f.s3 != nil {
		if err := s3store.DeleteBucket(ctx, f.s3, f.artifactsBucket); err != nil {
			errs = append(errs, err)
		}
	}
	if f.workDir != "" {
		errs = append(errs, os.RemoveAll(f.workDir))
	}
	if f.id != "" && len(errs) == 0 {
		errs = append(errs, f.checkNoLeftovers(ctx))
	}
	return errors.Join(errs...)
}

// checkNoLeftovers lists the functions, tables and buckets whose names
// carry this run's id: after tearDown there must be none, so that runs on a
// long-lived emulator do not pile up resources.
func (f *fixture) checkNoLeftovers(ctx context.Context) error {
	var left []string
	fns := lambda.NewListFunctionsPaginator(f.lambda, &lambda.ListFunctionsInput{})
	for fns.HasMorePages() {
		page, err := fns.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list functions: %w", err)
		}
		for _, fn := range page.Functions {
			left = append(left, "function "+aws.ToString(fn.FunctionName))
		}
	}
	tables := dynamodb.NewListTablesPaginator(f.ddb, &dynamodb.ListTablesInput{})
	for tables.HasMorePages() {
		page, err := tables.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		for _, name := range page.TableNames {
			left = append(left, "table "+name)
		}
	}
	buckets, err := f.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	for _, b := range buckets.Buckets {
		left = append(left, "bucket "+aws.ToString(b.Name))
	}
	left = slices.DeleteFunc(left, func(name string) bool { return !strings.Contains(name, f.id) })
	if len(left) > 0 {
		return fmt.Errorf("left behind after tear down: %s", strings.Join(left, ", "))
	}
	return nil
}

// deleteBucket empties and deletes a stack's data bucket.
func deleteBucket(ctx context.Context, f *fixture, bucket string) error {
	return s3store.DeleteBucket(ctx, f.s3, bucket)
}

// deleteTables deletes a stack's tables (the registry is retained by the
// stack's deletion); empty names are skipped.
func deleteTables(ctx context.Context, f *fixture, names []string) error {
	var tn dynamo.TableNames
	if len(names) > 0 {
		tn.Registry = names[0]
	}
	if len(names) > 1 {
		tn.Features = names[1]
	}
	if tn.Registry == "" && tn.Features == "" {
		return nil
	}
	return dynamo.DeleteTables(ctx, f.ddb, tn)
}

// deleteStackNamed deletes a stack and waits until it is gone.
func (f *fixture) deleteStackNamed(ctx context.Context, name string) error {
	if _, err := f.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: &name}); err != nil {
		return fmt.Errorf("delete stack %s: %w", name, err)
	}
	for {
		out, err := f.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
		if err != nil && strings.Contains(err.Error(), "does not exist") {
			break
		}
		if err == nil && (len(out.Stacks) == 0 || out.Stacks[0].StackStatus == "DELETE_COMPLETE") {
			break
		}
		if err == nil && out.Stacks[0].StackStatus == "DELETE_FAILED" {
			return fmt.Errorf("delete stack %s: DELETE_FAILED: %s", name, aws.ToString(out.Stacks[0].StackStatusReason))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete stack %s: %w (last: %v)", name, ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// printSummary prints the figures the suite measured.
func (f *fixture) printSummary() {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Println("integration: figures")
	for _, n := range f.notes {
		fmt.Printf("  %s\n", n)
	}
	for _, tm := range f.timings {
		fmt.Printf("  %-66s %8.3fs\n", tm.what, tm.d.Seconds())
	}
	slices.SortFunc(f.coldStart, func(a, b coldStart) int { return strings.Compare(a.function, b.function) })
	for _, c := range f.coldStart {
		fmt.Printf("  emulator round trip %-22s first (cold) %5.0f ms, second (warm) %5.0f ms\n", c.function, ms(c.cold), ms(c.warm))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// repoRoot is the module root: the tests run in tests/integration.
func repoRoot() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "template.yaml")); err != nil {
		return "", fmt.Errorf("repository root %s: %w", root, err)
	}
	return root, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
