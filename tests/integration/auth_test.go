//go:build integration

package integration_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// caller is who calls the API: SigV4 credentials (none: unsigned) and an
// x-api-key (none: no header).
type caller struct {
	name   string
	creds  *aws.Credentials
	apiKey string
}

// unsigned is a caller without credentials.
var unsigned = caller{name: "unsigned"}

// rootCaller signs with the suite's own credentials, the ones `churnops
// --backend aws` and the infra scripts use: an operator's.
func (f *fixture) rootCaller(t *testing.T) caller {
	t.Helper()
	creds, err := f.cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	return caller{name: "operator (SigV4)", creds: &creds}
}

// call sends one request to stage v1 of REST API apiID through the
// emulator's execute-api route, as c, signing it with SigV4 (service
// execute-api) the way an SDK or `curl --aws-sigv4` does.
func (f *fixture) call(t *testing.T, apiID string, c caller, method, path, body string) apiResponse {
	t.Helper()
	endpoint := strings.TrimRight(os.Getenv("AWS_ENDPOINT_URL"), "/")
	url := endpoint + "/_aws/execute-api/" + apiID + "/v1" + path
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("x-api-key", c.apiKey)
	}
	if c.creds != nil {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(t.Context(), *c.creds, req, hex.EncodeToString(sum[:]), "execute-api", f.cfg.Region, time.Now()); err != nil {
			t.Fatalf("sign %s %s: %v", method, path, err)
		}
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return apiResponse{status: resp.StatusCode, body: data, header: resp.Header, took: time.Since(start)}
}

// refusedByGateway reports whether r is API Gateway's own 403, whose body
// is {"message":…}, not an answer of the function, whose errors are always
// {"error":{…}}.
func refusedByGateway(r apiResponse) bool {
	var body struct {
		Message *string         `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	return r.status == http.StatusForbidden && json.Unmarshal(r.body, &body) == nil && body.Message != nil && body.Error == nil
}

// functionError is the code of the function's {"error":{…}} answer, "" if r
// is not one.
func functionError(r apiResponse) string {
	var e apiError
	if json.Unmarshal(r.body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// emulatorChecksIAM reports whether the emulator verifies signatures and
// evaluates IAM policies on execute-api calls (MiniStack with AUTH=true,
// what scripts/ministack.sh starts). Without it an AWS_IAM route only
// needs an Authorization header to be present.
func emulatorChecksIAM(t *testing.T) bool {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(os.Getenv("AWS_ENDPOINT_URL"), "/") + "/_ministack/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct {
		Auth string `json:"auth"`
	}
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&h) == nil && h.Auth == "enabled"
}

// predictOnlyUser is an IAM user granted execute-api:Invoke on POST
// /predict of the stack's API and nothing else: a client that may score
// customers but not read their data. Made once; tearDown deletes it.
func (f *fixture) predictOnlyUser(t *testing.T) caller {
	t.Helper()
	f.iamOnce.Do(func() { f.iamCaller, f.iamErr = f.createPredictOnlyUser(t.Context()) })
	if f.iamErr != nil {
		t.Fatalf("create the predict-only IAM user: %v", f.iamErr)
	}
	return f.iamCaller
}

func (f *fixture) createPredictOnlyUser(ctx context.Context) (caller, error) {
	client := iam.NewFromConfig(f.cfg)
	name := "churnops-it-predict-" + f.id
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: &name}); err != nil {
		return caller{}, fmt.Errorf("create user: %w", err)
	}
	f.iamUser = name
	// What infra/README.md tells an operator to grant a scoring client.
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke",`+
		`"Resource":"arn:aws:execute-api:%s:*:%s/v1/POST/predict"}]}`, f.cfg.Region, f.apiID)
	if _, err := client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &name, PolicyName: aws.String("predict-only"), PolicyDocument: &policy}); err != nil {
		return caller{}, fmt.Errorf("put user policy: %w", err)
	}
	key, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &name})
	if err != nil {
		return caller{}, fmt.Errorf("create access key: %w", err)
	}
	f.iamKeyID = aws.ToString(key.AccessKey.AccessKeyId)
	creds := aws.Credentials{AccessKeyID: f.iamKeyID, SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	return caller{name: "predict-only IAM user", creds: &creds}, nil
}

// deletePredictOnlyUser undoes createPredictOnlyUser.
func (f *fixture) deletePredictOnlyUser(ctx context.Context) error {
	if f.iamUser == "" {
		return nil
	}
	client := iam.NewFromConfig(f.cfg)
	if f.iamKeyID != "" {
		if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &f.iamUser, AccessKeyId: &f.iamKeyID}); err != nil {
			return fmt.Errorf("delete access key of %s: %w", f.iamUser, err)
		}
	}
	if _, err := client.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &f.iamUser, PolicyName: aws.String("predict-only")}); err != nil && !strings.Contains(err.Error(), "NoSuchEntity") {
		return fmt.Errorf("delete policy of %s: %w", f.iamUser, err)
	}
	if _, err := client.DeleteUser(ctx, &iam.DeleteUserInput{UserName: &f.iamUser}); err != nil {
		return fmt.Errorf("delete user %s: %w", f.iamUser, err)
	}
	return nil
}

// authCase is one call to the API and what must come of it.
type authCase struct {
	name         string
	who          caller
	method, path string
	body         string
	wantStatus   int
	gateway      bool   // refused by API Gateway itself (the function never ran)
	wantCode     string // the function's error code, for its own refusals
	check        func(t *testing.T, body []byte)
}

func (f *fixture) runAuthCases(t *testing.T, apiID string, cases []authCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.call(t, apiID, c.who, c.method, c.path, c.body)
			if r.status != c.wantStatus {
				t.Fatalf("%s %s as %s: status %d, want %d; body %s", c.method, c.path, c.who.name, r.status, c.wantStatus, r.body)
			}
			if c.gateway && !refusedByGateway(r) {
				t.Fatalf("%s %s as %s: %d %s is not API Gateway's own refusal: the function ran", c.method, c.path, c.who.name, r.status, r.body)
			}
			if !c.gateway && c.wantCode != "" && functionError(r) != c.wantCode {
				t.Fatalf("%s %s as %s: body %s, want the function's error %s", c.method, c.path, c.who.name, r.body, c.wantCode)
			}
			if c.check != nil {
				c.check(t, r.body)
			}
		})
	}
}

// TestAPIKeyStack deploys the template a second time with ApiAuth=API_KEY
// and calls it with the stack's key: a route needs the key of the usage
// plan (403 from API Gateway without it or with another), /health needs
// nothing, and /predict/details still needs SigV4, whatever the key. The
// stack has no data: a call that passes the gateway gets the function's
// 503 no_production_model, which proves it got through.
func TestAPIKeyStack(t *testing.T) {
	f := shared(t)
	ctx := t.Context()
	stack := f.stackName + "-key"
	start := time.Now()
	s, err := f.deploy(ctx, stack, "ApiAuth=API_KEY")
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := f.destroy(cctx, s); err != nil {
			t.Errorf("tear down %s: %v", stack, err)
		}
	})
	if err != nil {
		t.Fatalf("deploy %s: %v", stack, err)
	}
	f.record("sam deploy (ApiAuth=API_KEY)", time.Since(start))
	if s.outputs["ApiAuth"] != "API_KEY" || s.outputs["PredictApiKeyId"] == "" {
		t.Fatalf("stack outputs %v: want ApiAuth=API_KEY and a PredictApiKeyId", s.outputs)
	}
	key, err := apigateway.NewFromConfig(f.cfg).GetApiKey(ctx, &apigateway.GetApiKeyInput{
		ApiKey: aws.String(s.outputs["PredictApiKeyId"]), IncludeValue: aws.Bool(true)})
	if err != nil || aws.ToString(key.Value) == "" {
		t.Fatalf("get the stack's API key value: %v", err)
	}
	client := caller{name: "API key", apiKey: aws.ToString(key.Value)}
	wrongKey := caller{name: "wrong API key", apiKey: "not-a-key-of-this-stack-0123456789"}
	signed := f.rootCaller(t)
	signedWithKey := signed
	signedWithKey.name, signedWithKey.apiKey = "operator (SigV4) with the API key", client.apiKey
	user := `{"user_id":"` + f.months[0].Users[0] + `"}`
	details := `{"user_id":"` + f.months[0].Users[0] + `","include":["features"]}`
	f.runAuthCases(t, s.apiID, []authCase{
		{name: "health_open", who: unsigned, method: "GET", path: "/health", wantStatus: 200},
		{name: "predict_no_key", who: unsigned, method: "POST", path: "/predict", body: user, wantStatus: 403, gateway: true},
		{name: "predict_wrong_key", who: wrongKey, method: "POST", path: "/predict", body: user, wantStatus: 403, gateway: true},
		{name: "model_no_key", who: unsigned, method: "GET", path: "/model", wantStatus: 403, gateway: true},
		{name: "predict_key", who: client, method: "POST", path: "/predict", body: user, wantStatus: 503, wantCode: "no_production_model"},
		{name: "model_key", who: client, method: "GET", path: "/model", wantStatus: 503, wantCode: "no_production_model"},
		{name: "details_key_only", who: client, method: "POST", path: "/predict/details", body: details, wantStatus: 403, gateway: true},
		{name: "details_signed", who: signedWithKey, method: "POST", path: "/predict/details", body: details, wantStatus: 503, wantCode: "no_production_model"},
	})
}

// stack is a deployed copy of the template.
type stack struct {
	name        string
	apiID       string
	bucket      string
	tables      []string
	outputs     map[string]string
	deployStart time.Time
}

// stackMu serializes deploys of extra stacks with the fixture's own.
var stackMu sync.Mutex

// deploy deploys the fixture's SAM build as stack name with extra
// parameter overrides, and reads its outputs. On error the returned stack
// still names what may exist, for destroy.
func (f *fixture) deploy(ctx context.Context, name string, overrides ...string) (*stack, error) {
	stackMu.Lock()
	defer stackMu.Unlock()
	s := &stack{name: name, deployStart: time.Now()}
	params := append([]string{"Architecture=" + lambdaArchitecture(), "PredictReloadInterval=2s"}, overrides...)
	if _, err := f.sam(ctx, "deploy",
		"--template-file", f.builtTemplate,
		"--stack-name", name,
		"--s3-bucket", f.artifactsBucket,
		"--region", f.cfg.Region,
		"--capabilities", "CAPABILITY_IAM",
		"--parameter-overrides", strings.Join(params, " "),
		"--no-resolve-s3",
		"--no-confirm-changeset", "--no-fail-on-empty-changeset", "--no-progressbar"); err != nil {
		return s, err
	}
	outputs, err := f.stackOutputs(ctx, name)
	if err != nil {
		return s, err
	}
	s.outputs = outputs
	s.bucket = outputs["DataBucketName"]
	s.tables = []string{outputs["RegistryTableName"], outputs["FeaturesTableName"]}
	if err := f.dropTLSOnlyPolicy(ctx, s.bucket); err != nil {
		return s, err
	}
	m := apiIDInURL.FindStringSubmatch(outputs["PredictUrl"])
	if m == nil {
		return s, fmt.Errorf("stack %s output PredictUrl %q does not name a REST API", name, outputs["PredictUrl"])
	}
	s.apiID = m[1]
	return s, nil
}

// destroy deletes what deploy created: the bucket, the stack, the tables
// it retains.
func (f *fixture) destroy(ctx context.Context, s *stack) error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.bucket != "" {
		errs = append(errs, deleteBucket(ctx, f, s.bucket))
	}
	errs = append(errs, f.deleteStackNamed(ctx, s.name))
	errs = append(errs, deleteTables(ctx, f, s.tables))
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return nil
}

// dropTLSOnlyPolicy checks that the deployed bucket policy denies requests
// without TLS, then deletes it when the emulator is reached over plain
// HTTP. MiniStack (AUTH=true) evaluates that policy for the functions'
// roles, and every request to it is plain HTTP, so it would deny them all;
// the suite's own root credentials bypass bucket policies, as on AWS.
// infra/template_test.go checks the statement in the template itself.
func (f *fixture) dropTLSOnlyPolicy(ctx context.Context, bucket string) error {
	out, err := f.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &bucket})
	if err != nil {
		return fmt.Errorf("get the policy of bucket %s: %w", bucket, err)
	}
	var doc struct {
		Statement []struct {
			Effect    string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil {
		return fmt.Errorf("policy of bucket %s: %w", bucket, err)
	}
	denies := false
	for _, st := range doc.Statement {
		denies = denies || st.Effect == "Deny" && st.Condition["Bool"]["aws:SecureTransport"] == "false"
	}
	if !denies {
		return fmt.Errorf("the deployed policy of bucket %s does not deny requests without TLS: %s", bucket, aws.ToString(out.Policy))
	}
	if !strings.HasPrefix(os.Getenv("AWS_ENDPOINT_URL"), "http://") {
		return nil
	}
	if _, err := f.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &bucket}); err != nil {
		return fmt.Errorf("delete the TLS-only policy of bucket %s on the plain-HTTP emulator: %w", bucket, err)
	}
	return nil
}
