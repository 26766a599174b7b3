package infra_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/serve/servetest"
	"github.com/churnops/churnops/statemachine"
)

// template is template.yaml, parsed: the top-level mapping of its document.
type template struct{ root *yaml.Node }

func loadTemplate(t *testing.T) template {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatal("template.yaml is not one mapping")
	}
	return template{doc.Content[0]}
}

// get walks mapping keys from n; nil when one is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// keys lists a mapping's keys in template order.
func keys(n *yaml.Node) []string {
	var ks []string
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			ks = append(ks, n.Content[i].Value)
		}
	}
	return ks
}

// list is n's items when n is a sequence, else n alone (CloudFormation
// accepts one value where a list is expected).
func list(n *yaml.Node) []*yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode && n.Tag == "!!seq":
		return n.Content
	}
	return []*yaml.Node{n}
}

// intrinsic names a short-form intrinsic (!Ref X) or a long-form one
// ({"Ref": X}): the function without its prefix and the argument node.
func intrinsic(n *yaml.Node) (string, *yaml.Node) {
	if n == nil {
		return "", nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return strings.TrimPrefix(n.Tag, "!"), n
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return strings.TrimPrefix(k, "Fn::"), n.Content[1]
		}
	}
	return "", nil
}

// ref is the target of a !Ref, "" if n is not one.
func ref(n *yaml.Node) string {
	if fn, arg := intrinsic(n); fn == "Ref" {
		return arg.Value
	}
	return ""
}

// getAtt is the "Resource.Attribute" of a !GetAtt, "" if n is not one.
func getAtt(n *yaml.Node) string {
	fn, arg := intrinsic(n)
	if fn != "GetAtt" {
		return ""
	}
	if arg.Kind == yaml.SequenceNode && len(arg.Content) == 2 { // long form, or !GetAtt [R, A]
		return arg.Content[0].Value + "." + arg.Content[1].Value
	}
	return arg.Value
}

// sub is the string of a one-argument !Sub, "" if n is not one.
func sub(n *yaml.Node) string {
	if fn, arg := intrinsic(n); fn == "Sub" && arg.Kind == yaml.ScalarNode {
		return arg.Value
	}
	return ""
}

// branches is what a value can resolve to: both branches of an !If on
// condition cond (which it returns), or the value itself.
func branches(n *yaml.Node) (cond string, vs []*yaml.Node) {
	if fn, arg := intrinsic(n); fn == "If" {
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 3 {
			return "?", nil
		}
		return arg.Content[0].Value, arg.Content[1:]
	}
	return "", []*yaml.Node{n}
}

func (tp template) resource(name string) *yaml.Node { return get(tp.root, "Resources", name) }

func (tp template) resourcesOfType(typ string) []string {
	var names []string
	for _, name := range keys(get(tp.root, "Resources")) {
		if get(tp.resource(name), "Type").Value == typ {
			names = append(names, name)
		}
	}
	return names
}

// checkRetainedLogGroup checks that ref names a log group kept for
// LogRetentionDays.
func (tp template) checkLogGroup(t *testing.T, what, name string) {
	t.Helper()
	lg := tp.resource(name)
	if lg == nil || get(lg, "Type").Value != "AWS::Logs::LogGroup" {
		t.Errorf("%s: %q is not a log group of the template", what, name)
		return
	}
	if r := ref(get(lg, "Properties", "RetentionInDays")); r != "LogRetentionDays" {
		t.Errorf("%s: log group %s: RetentionInDays is not !Ref LogRetentionDays", what, name)
	}
}

// TestAPIRoutesAuthenticate: every route of the API but /health carries an
// authorization setting in both ApiAuth modes: IAM (SigV4) by default, an
// API key with ApiAuth=API_KEY; /predict/details is IAM in both.
func TestAPIRoutesAuthenticate(t *testing.T) {
	tp := loadTemplate(t)
	api := tp.resource("PredictApi")
	if get(api, "Type").Value != "AWS::Serverless::Api" {
		t.Fatal("no PredictApi")
	}
	body := get(api, "Properties", "DefinitionBody")
	if get(api, "Properties", "Auth") != nil {
		t.Error("PredictApi has SAM Auth: the routes' security lives in DefinitionBody, where it follows ApiAuth")
	}
	if v := get(api, "Properties", "AlwaysDeploy"); v == nil || v.Value != "true" {
		t.Error("PredictApi: without AlwaysDeploy a changed ApiAuth never reaches the stage")
	}
	defs := get(body, "securityDefinitions")
	if v := get(defs, "sigv4", "x-amazon-apigateway-authtype"); v == nil || v.Value != "awsSigv4" {
		t.Error("securityDefinitions.sigv4 is not awsSigv4 (IAM)")
	}
	if get(defs, "api_key", "name").Value != "x-api-key" || get(defs, "api_key", "in").Value != "header" {
		t.Error("securityDefinitions.api_key is not the x-api-key header")
	}
	// ApiAuth's default is IAM, and UseApiKeys is ApiAuth=API_KEY.
	param := get(tp.root, "Parameters", "ApiAuth")
	if get(param, "Default").Value != "AWS_IAM" {
		t.Errorf("ApiAuth defaults to %q, want AWS_IAM", get(param, "Default").Value)
	}
	if cond := get(tp.root, "Conditions", "UseApiKeys"); cond == nil {
		t.Error("no condition UseApiKeys")
	} else if fn, arg := intrinsic(cond); fn != "Equals" || ref(arg.Content[0]) != "ApiAuth" || arg.Content[1].Value != "API_KEY" {
		t.Error("UseApiKeys is not ApiAuth = API_KEY")
	}

	// The security each mode resolves to, per route.
	mode := func(cond string, i int) string {
		switch {
		case cond == "":
			return "either mode"
		case i == 0:
			return cond
		}
		return "not " + cond
	}
	paths := get(body, "paths")
	var routes []string
	for _, path := range keys(paths) {
		for _, method := range keys(get(paths, path)) {
			op := get(paths, path, method)
			route := strings.ToUpper(method) + " " + path
			routes = append(routes, route)
			integ := get(op, "x-amazon-apigateway-integration")
			if get(integ, "type").Value != "aws_proxy" || !strings.Contains(sub(get(integ, "uri")), "${PredictFunction.Arn}") {
				t.Errorf("%s: not a proxy integration of PredictFunction", route)
			}
			sec := get(op, "security")
			if path == "/health" {
				if sec != nil {
					t.Errorf("%s: has security; the liveness probe answers anyone", route)
				}
				continue
			}
			if sec == nil {
				t.Errorf("%s: no security: anyone could call it", route)
				continue
			}
			cond, vs := branches(sec)
			if cond != "" && cond != "UseApiKeys" {
				t.Errorf("%s: security depends on condition %q", route, cond)
				continue
			}
			for i, v := range vs {
				var schemes []string
				for _, req := range list(v) {
					for _, name := range keys(req) {
						if get(defs, name) == nil {
							t.Errorf("%s: security names undefined scheme %q", route, name)
						}
						schemes = append(schemes, name)
					}
				}
				want := []string{"sigv4"}
				if cond != "" && i == 0 {
					want = []string{"api_key"}
				}
				if path == "/predict/details" {
					want = []string{"sigv4"} // per-customer data: IAM only, whatever ApiAuth says
				}
				if !slices.Equal(schemes, want) {
					t.Errorf("%s (%s): security %v, want %v", route, mode(cond, i), schemes, want)
				}
			}
			if path == "/predict/details" && cond != "" {
				t.Errorf("%s: security follows %s; it must be IAM in every mode", route, cond)
			}
		}
	}
	want := []string{"POST /predict", "POST /predict/details", "GET /health", "GET /ready", "GET /model"}
	if !slices.Equal(slices.Sorted(slices.Values(routes)), slices.Sorted(slices.Values(want))) {
		t.Errorf("routes %v, want %v", routes, want)
	}

	// Each route is one the service answers (not 404/405), so the API has
	// no route the function does not serve.
	env := servetest.NewEnv(servetest.Users(3, 1, "2024-01-31"))
	svc, err := env.ProductionService(t.Context(), "churn", "2024-01-31")
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		body := ""
		if method == http.MethodPost {
			body = `{"user_id":"nobody"}`
		}
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		if rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), `"not_found"`) || rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s: the service answers %d %s", route, rec.Code, rec.Body)
		}
	}

	// Only API Gateway may invoke the function, from this API.
	perm := get(tp.resource("PredictApiInvokePermission"), "Properties")
	if get(perm, "Principal").Value != "apigateway.amazonaws.com" || ref(get(perm, "FunctionName")) != "PredictFunction" ||
		!strings.Contains(sub(get(perm, "SourceArn")), ":${PredictApi}/") {
		t.Error("PredictApiInvokePermission is not API Gateway invoking PredictFunction from PredictApi")
	}
}

// TestAPIKeyUsagePlan: with ApiAuth=API_KEY a usage plan throttles and caps
// each key on the API's stage.
func TestAPIKeyUsagePlan(t *testing.T) {
	tp := loadTemplate(t)
	for _, name := range []string{"PredictApiKey", "PredictUsagePlan", "PredictUsagePlanKey"} {
		if c := get(tp.resource(name), "Condition"); c == nil || c.Value != "UseApiKeys" {
			t.Errorf("%s: not conditioned on UseApiKeys", name)
		}
	}
	plan := get(tp.resource("PredictUsagePlan"), "Properties")
	stages := list(get(plan, "ApiStages"))
	if len(stages) != 1 || ref(get(stages[0], "ApiId")) != "PredictApi" || ref(get(stages[0], "Stage")) != "PredictApi.Stage" {
		t.Error("PredictUsagePlan does not cover PredictApi's stage")
	}
	for field, param := range map[string]string{
		"Throttle.RateLimit": "ApiKeyRateLimit", "Throttle.BurstLimit": "ApiKeyBurstLimit", "Quota.Limit": "ApiKeyDailyQuota",
	} {
		a, b, _ := strings.Cut(field, ".")
		if ref(get(plan, a, b)) != param {
			t.Errorf("PredictUsagePlan %s is not !Ref %s", field, param)
		}
	}
	key := get(tp.resource("PredictUsagePlanKey"), "Properties")
	if ref(get(key, "KeyId")) != "PredictApiKey" || ref(get(key, "UsagePlanId")) != "PredictUsagePlan" {
		t.Error("PredictUsagePlanKey does not put PredictApiKey in PredictUsagePlan")
	}
}

// TestAuditLogs: the API stage writes JSON access logs naming the caller,
// the state machine logs its executions, every function logs to its own
// group, and each of these groups keeps LogRetentionDays.
func TestAuditLogs(t *testing.T) {
	tp := loadTemplate(t)
	access := get(tp.resource("PredictApi"), "Properties", "AccessLogSetting")
	dest := getAtt(get(access, "DestinationArn"))
	if !strings.HasSuffix(dest, ".Arn") {
		t.Fatalf("PredictApi access logs go to %q, not a log group of the template", dest)
	}
	tp.checkLogGroup(t, "PredictApi access logs", strings.TrimSuffix(dest, ".Arn"))
	var line map[string]string
	if err := json.Unmarshal([]byte(get(access, "Format").Value), &line); err != nil {
		t.Fatalf("access log format is not a JSON object: %v", err)
	}
	for _, k := range []string{"requestId", "requestTime", "ip", "caller", "userArn", "apiKeyId", "httpMethod", "resourcePath", "status", "errorMessage"} {
		if !strings.HasPrefix(line[k], "$context.") {
			t.Errorf("access log line has no %s", k)
		}
	}
	if get(tp.resource("ApiGatewayAccount"), "Type").Value != "AWS::ApiGateway::Account" ||
		!slices.Contains(valuesOf(get(tp.resource("PredictApi"), "DependsOn")), "ApiGatewayAccount") {
		t.Error("the stage's access logs need the account's CloudWatch role set first (ApiGatewayAccount, DependsOn)")
	}

	sm := get(tp.resource("RetrainStateMachine"), "Properties", "Logging")
	if lvl := get(sm, "Level"); lvl == nil || (lvl.Value != "ERROR" && lvl.Value != "ALL") {
		t.Error("the state machine does not log its errors (Logging.Level ERROR or ALL)")
	}
	if v := get(sm, "IncludeExecutionData"); v == nil || v.Value != "false" {
		t.Error("the state machine's logs include execution data")
	}
	dests := list(get(sm, "Destinations"))
	if len(dests) != 1 {
		t.Fatal("the state machine logs to no group")
	}
	tp.checkLogGroup(t, "RetrainStateMachine", strings.TrimSuffix(getAtt(get(dests[0], "CloudWatchLogsLogGroup", "LogGroupArn")), ".Arn"))

	functions := tp.resourcesOfType("AWS::Serverless::Function")
	if len(functions) < 5 {
		t.Fatalf("%d functions", len(functions))
	}
	groups := map[string]string{}
	for _, fn := range functions {
		lg := ref(get(tp.resource(fn), "Properties", "LoggingConfig", "LogGroup"))
		if lg == "" {
			t.Errorf("%s: no LoggingConfig.LogGroup: Lambda's default group keeps logs forever", fn)
			continue
		}
		if other, dup := groups[lg]; dup {
			t.Errorf("%s and %s log to the same group %s", fn, other, lg)
		}
		groups[lg] = fn
		tp.checkLogGroup(t, fn, lg)
	}
}

func valuesOf(n *yaml.Node) []string {
	var vs []string
	for _, it := range list(n) {
		vs = append(vs, it.Value)
	}
	return vs
}

// access is what a function may do: bucket prefixes it reads and writes,
// whether it lists keys, and its actions on each table.
type access struct {
	reads, writes, deletes []string
	list                   bool
	registry, feature      []string
	states                 []string // Step Functions actions
}

// wantAccess is each function's least privilege; a new function is a new
// row (the test fails for a function it does not know).
var wantAccess = map[string]access{
	"DriftFunction": {reads: []string{"datasets/", "reports/"}, writes: []string{"reports/"}, list: true},
	"TrainFunction": {reads: []string{"datasets/", "models/"}, writes: []string{"models/"}, list: true,
		registry: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}},
	"EvaluateFunction": {reads: []string{"datasets/", "models/"}, list: true,
		registry: []string{"dynamodb:GetItem", "dynamodb:Query"}},
	"CompareFunction": {reads: []string{"models/"}, list: true,
		registry: []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}},
	"IngestFunction": {reads: []string{"datasets/", "incoming/", "staging/"}, writes: []string{"datasets/", "staging/"}, deletes: []string{"datasets/", "staging/"}, list: true,
		feature: []string{"dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}},
	"ScoreFunction": {reads: []string{"datasets/", "models/", "reports/scores/", "scores/"}, writes: []string{"reports/scores/", "scores/"}, deletes: []string{"reports/scores/", "scores/"}, list: true,
		registry: []string{"dynamodb:GetItem", "dynamodb:Query"}},
	"ReportFunction": {reads: []string{"reports/"}, writes: []string{"reports/"}, list: true,
		registry: []string{"dynamodb:GetItem", "dynamodb:Query"}, states: []string{"states:GetExecutionHistory"}},
	"PredictFunction": {reads: []string{"models/"}, registry: []string{"dynamodb:GetItem"},
		feature: []string{"dynamodb:GetItem"}},
}

var objectPrefix = regexp.MustCompile(`^\$\{DataBucket\.Arn\}/((?:[a-z]+/)+)\*$`)

// ownExecutions is the only resource a function may call Step Functions
// on: the executions of the stack's state machine.
const ownExecutions = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-retrain:*"

// TestLeastPrivilege: each function's policies grant exactly wantAccess:
// inline statements only (no policy templates, whose S3 write grants
// include ACLs, lifecycle rules and deletes), no wildcard actions, deletes
// and batch writes only where the row lists them (the ingest's staging and
// online features, the scoring's derived files), Predict reads features by
// key only.
func TestLeastPrivilege(t *testing.T) {
	tp := loadTemplate(t)
	functions := tp.resourcesOfType("AWS::Serverless::Function")
	for _, fn := range functions {
		t.Run(fn, func(t *testing.T) {
			want, known := wantAccess[fn]
			if !known {
				t.Fatalf("no least-privilege row for %s in wantAccess", fn)
			}
			var got access
			for _, pol := range list(get(tp.resource(fn), "Properties", "Policies")) {
				stmts := get(pol, "Statement")
				if stmts == nil {
					t.Errorf("policy %v is not an inline statement list", keys(pol))
					continue
				}
				for _, st := range list(stmts) {
					if get(st, "Effect").Value != "Allow" {
						continue
					}
					for _, a := range valuesOf(get(st, "Action")) {
						listed := slices.Contains(want.feature, a) || a == "s3:DeleteObject" && len(want.deletes) > 0
						if strings.Contains(a, "*") || strings.Contains(a, "Acl") || strings.Contains(a, "Lifecycle") || a == "dynamodb:Scan" ||
							(strings.Contains(a, "Delete") || a == "dynamodb:BatchWriteItem") && !listed {
							t.Errorf("grants %s", a)
						}
						for _, r := range list(get(st, "Resource")) {
							res := getAtt(r)
							if res == "" {
								res = sub(r)
							}
							switch m := objectPrefix.FindStringSubmatch(res); {
							case a == "s3:ListBucket" && res == "DataBucket.Arn":
								got.list = true
							case a == "s3:GetObject" && m != nil:
								got.reads = append(got.reads, m[1])
							case a == "s3:PutObject" && m != nil:
								got.writes = append(got.writes, m[1])
							case a == "s3:DeleteObject" && m != nil:
								got.deletes = append(got.deletes, m[1])
							case strings.HasPrefix(a, "states:") && res == ownExecutions:
								got.states = append(got.states, a)
							case strings.HasPrefix(a, "dynamodb:") && res == "RegistryTable.Arn":
								got.registry = append(got.registry, a)
							case strings.HasPrefix(a, "dynamodb:") && res == "FeaturesTable.Arn":
								got.feature = append(got.feature, a)
							default:
								t.Errorf("unexpected grant %s on %q", a, res)
							}
						}
					}
				}
			}
			for _, s := range [][]string{got.reads, got.writes, got.deletes, got.registry, got.feature, got.states} {
				slices.Sort(s)
			}
			if !slices.Equal(got.reads, want.reads) || !slices.Equal(got.writes, want.writes) || !slices.Equal(got.deletes, want.deletes) || got.list != want.list ||
				!slices.Equal(got.registry, want.registry) || !slices.Equal(got.feature, want.feature) || !slices.Equal(got.states, want.states) {
				t.Errorf("grants %s, want %s", got, want)
			}
		})
	}
}

func (a access) String() string {
	return fmt.Sprintf("{reads %v writes %v deletes %v list %v registry %v features %v states %v}", a.reads, a.writes, a.deletes, a.list, a.registry, a.feature, a.states)
}

// TestPredictConcurrency: Predict's concurrency is reserved (and capped)
// by a parameter, -1 for none, so /predict cannot starve the pipeline.
func TestPredictConcurrency(t *testing.T) {
	tp := loadTemplate(t)
	cond, vs := branches(get(tp.resource("PredictFunction"), "Properties", "ReservedConcurrentExecutions"))
	if cond != "ReservePredictConcurrency" || len(vs) != 2 || ref(vs[0]) != "PredictReservedConcurrency" || ref(vs[1]) != "AWS::NoValue" {
		t.Error("PredictFunction.ReservedConcurrentExecutions is not !If [ReservePredictConcurrency, !Ref PredictReservedConcurrency, !Ref AWS::NoValue]")
	}
	if get(tp.root, "Conditions", "ReservePredictConcurrency") == nil || get(tp.root, "Parameters", "PredictReservedConcurrency") == nil {
		t.Error("no PredictReservedConcurrency parameter or ReservePredictConcurrency condition")
	}
}

// TestBucketRefusesPlainHTTP: the bucket policy denies every request that
// does not use TLS, on the bucket and on its objects.
func TestBucketRefusesPlainHTTP(t *testing.T) {
	tp := loadTemplate(t)
	for _, name := range tp.resourcesOfType("AWS::S3::BucketPolicy") {
		p := get(tp.resource(name), "Properties")
		if ref(get(p, "Bucket")) != "DataBucket" {
			continue
		}
		for _, st := range list(get(p, "PolicyDocument", "Statement")) {
			cond := get(st, "Condition", "Bool", "aws:SecureTransport")
			if get(st, "Effect").Value != "Deny" || cond == nil || cond.Value != "false" || get(st, "Principal").Value != "*" ||
				!slices.Equal(valuesOf(get(st, "Action")), []string{"s3:*"}) {
				continue
			}
			var res []string
			for _, r := range list(get(st, "Resource")) {
				res = append(res, getAtt(r)+sub(r))
			}
			if slices.Contains(res, "DataBucket.Arn") && slices.Contains(res, "${DataBucket.Arn}/*") {
				return
			}
		}
	}
	t.Error("no bucket policy on DataBucket denies s3:* when aws:SecureTransport is false on the bucket and its objects")
}

// TestCheckovSkipsHaveReasons: every check skipped in the template names
// the check and says why.
func TestCheckovSkipsHaveReasons(t *testing.T) {
	tp := loadTemplate(t)
	id := regexp.MustCompile(`^CKV2?_AWS_\d+$`)
	n := 0
	for _, name := range keys(get(tp.root, "Resources")) {
		for _, skip := range list(get(tp.resource(name), "Metadata", "checkov", "skip")) {
			n++
			if !id.MatchString(get(skip, "id").Value) {
				t.Errorf("%s: skip %q is not a checkov check id", name, get(skip, "id").Value)
			}
			if c := get(skip, "comment"); c == nil || len(strings.Fields(c.Value)) < 8 {
				t.Errorf("%s: skip %s has no reason (a comment of a sentence or more)", name, get(skip, "id").Value)
			}
		}
	}
	if n == 0 {
		t.Error("no checkov skips found: the Metadata layout changed?")
	}
}

// TestMonthArrivedTrigger: the bucket sends its events to EventBridge, and
// a rule on Object Created of incoming/as_of=*/_SUCCESS in this bucket
// starts the state machine with the marker's bucket, key and ETag as its
// incoming month; the rendered input is an execution input the pipeline
// accepts, and so is the schedule's.
func TestMonthArrivedTrigger(t *testing.T) {
	tp := loadTemplate(t)
	if v := get(tp.resource("DataBucket"), "Properties", "NotificationConfiguration", "EventBridgeConfiguration", "EventBridgeEnabled"); v == nil || v.Value != "true" {
		t.Error("DataBucket does not send its events to EventBridge")
	}
	ev := get(tp.resource("RetrainStateMachine"), "Properties", "Events", "MonthArrived")
	if get(ev, "Type").Value != "EventBridgeRule" {
		t.Fatal("no MonthArrived EventBridgeRule on the state machine")
	}
	pat := get(ev, "Properties", "Pattern")
	if valuesOf(get(pat, "source"))[0] != "aws.s3" || valuesOf(get(pat, "detail-type"))[0] != "Object Created" ||
		ref(list(get(pat, "detail", "bucket", "name"))[0]) != "DataBucket" {
		t.Errorf("pattern: not Object Created in DataBucket")
	}
	if w := get(list(get(pat, "detail", "object", "key"))[0], "wildcard"); w == nil || w.Value != "incoming/as_of=*/_SUCCESS" {
		t.Error("pattern: not the incoming/as_of=*/_SUCCESS markers")
	}
	paths := get(ev, "Properties", "InputTransformer", "InputPathsMap")
	for k, want := range map[string]string{"bucket": "$.detail.bucket.name", "key": "$.detail.object.key", "etag": "$.detail.object.etag"} {
		if v := get(paths, k); v == nil || v.Value != want {
			t.Errorf("InputPathsMap %s: want %s", k, want)
		}
	}
	params := map[string]string{"ModelName": "churn", "DriftThreshold": "0.02", "AucDelta": "0.01", "MinAuc": "0.7", "TrainingRowBudget": "1000000", "IngestShardRows": "500000"}
	render := func(s string, vars map[string]string) string {
		for k, v := range params {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		for k, v := range vars {
			s = strings.ReplaceAll(s, "<"+k+">", v)
		}
		return s
	}
	marker := render(sub(get(ev, "Properties", "InputTransformer", "InputTemplate")),
		map[string]string{"bucket": `"my-bucket"`, "key": `"incoming/as_of=2024-05-31/_SUCCESS"`, "etag": `"abc"`})
	schedule := render(sub(get(tp.resource("RetrainStateMachine"), "Properties", "Events", "Monthly", "Properties", "Input")), nil)
	for name, input := range map[string]string{"MonthArrived": marker, "Monthly": schedule} {
		var in pipeline.ExecutionInput
		dec := json.NewDecoder(strings.NewReader(input))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			t.Errorf("%s input %s: %v", name, input, err)
			continue
		}
		if err := in.Validate(); err != nil {
			t.Errorf("%s input refused: %v", name, err)
		}
		if name == "MonthArrived" && (in.Incoming == nil || in.Incoming.Key != "incoming/as_of=2024-05-31/_SUCCESS" || in.CurrentAsOf != "2024-05-31" || in.ShardRows != 500000) {
			t.Errorf("MonthArrived input %+v", in)
		}
	}
}

// TestStateMachineWiring: every function the definition names is
// substituted, and the role may run the Distributed Map states' child
// executions of this state machine (and nothing of another).
func TestStateMachineWiring(t *testing.T) {
	tp := loadTemplate(t)
	props := get(tp.resource("RetrainStateMachine"), "Properties")
	subs := get(props, "DefinitionSubstitutions")
	for _, name := range statemachine.Functions {
		fn := strings.TrimSuffix(name, "Arn")
		if getAtt(get(subs, name)) != fn+".Arn" {
			t.Errorf("DefinitionSubstitutions %s is not !GetAtt %s.Arn", name, fn)
		}
	}
	if got, want := len(keys(subs)), len(statemachine.Functions); got != want {
		t.Errorf("%d substitutions, the definition names %d functions", got, want)
	}
	if sub(get(props, "Name")) != "${AWS::StackName}-retrain" {
		t.Error("the state machine is not named ${AWS::StackName}-retrain (its role and the Report function name its ARN)")
	}
	grants := map[string]string{}
	for _, pol := range list(get(props, "Policies")) {
		for _, st := range list(get(pol, "Statement")) {
			for _, a := range valuesOf(get(st, "Action")) {
				if strings.HasPrefix(a, "states:") {
					grants[a] = sub(get(st, "Resource"))
				}
			}
		}
	}
	self := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-retrain"
	children := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-retrain/*"
	want := map[string]string{"states:StartExecution": self, "states:DescribeExecution": children, "states:StopExecution": children}
	if len(grants) != len(want) {
		t.Errorf("Step Functions grants %v, want %v", grants, want)
	}
	for a, r := range want {
		if grants[a] != r {
			t.Errorf("%s on %q, want %q", a, grants[a], r)
		}
	}
}
