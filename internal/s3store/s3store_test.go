package s3store_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/s3store"
)

// TestNewClientEndpoints checks that the pinned SDK resolves the standard
// endpoint variables and that NewClient turns path-style on exactly when
// S3's endpoint is overridden.
func TestNewClientEndpoints(t *testing.T) {
	cases := []struct {
		name      string
		env       map[string]string
		endpoint  string // "" for AWS's own
		pathStyle bool
	}{
		{"no override", nil, "", false},
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "http://127.0.0.1:4566", true},
		{"AWS_ENDPOINT_URL_S3", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:4567"}, "http://127.0.0.1:4567", true},
		{"service-specific wins", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:4567"}, "http://127.0.0.1:4567", true},
		{"another service's override", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4566"}, "", false},
		{"overrides ignored", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := config.LoadDefaultConfig(t.Context())
			if err != nil {
				t.Fatalf("LoadDefaultConfig: %v", err)
			}
			o := s3store.NewClient(cfg).Options()
			if got := aws.ToString(o.BaseEndpoint); got != tc.endpoint {
				t.Errorf("BaseEndpoint %q, want %q", got, tc.endpoint)
			}
			if o.UsePathStyle != tc.pathStyle {
				t.Errorf("UsePathStyle %v, want %v", o.UsePathStyle, tc.pathStyle)
			}
		})
	}
}

// isolateEnv clears the variables and files that could leak an endpoint or
// a profile from the machine into the test.
func isolateEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
}

// fakeAPI answers every call with the next scripted error (nil: success).
type fakeAPI struct {
	s3store.API
	errs  []error
	calls int
}

func (f *fakeAPI) next() error {
	f.calls++
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

func (f *fakeAPI) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeAPI) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, f.next()
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

// TestErrorMapping covers the S3 answers an emulator rarely gives: the
// sentinels they map to and the retry of conditional-write conflicts.
func TestErrorMapping(t *testing.T) {
	const key = "models/churn/v1/model.json"
	conflict := apiErr("ConditionalRequestConflict")
	cases := []struct {
		name      string
		op        func(s *s3store.Store) error
		errs      []error
		want      error  // a sentinel the error must wrap; nil with wantCode "" means success
		wantCode  string // the API error code the error must carry, unmapped
		wantCalls int
	}{
		{"412 is ErrExists", put(key), []error{apiErr("PreconditionFailed")}, blob.ErrExists, "", 1},
		{"409 is retried until it succeeds", put(key), []error{conflict, conflict}, nil, "", 3},
		{"409 retried until 412", put(key), []error{conflict, apiErr("PreconditionFailed")}, blob.ErrExists, "", 2},
		{"409 gives up", put(key), slices.Repeat([]error{conflict}, 7), nil, "ConditionalRequestConflict", 6},
		{"other errors pass through", put(key), []error{apiErr("AccessDenied")}, nil, "AccessDenied", 1},
		{"bad key never reaches S3", put("../x"), nil, blob.ErrBadKey, "", 0},
		{"NoSuchKey is ErrNotFound", get(key), []error{&types.NoSuchKey{}}, blob.ErrNotFound, "", 1},
		{"bad key Get never reaches S3", get("a//b"), nil, blob.ErrBadKey, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{errs: tc.errs}
			err := tc.op(s3store.New(f, "bucket"))
			var ae smithy.APIError
			switch {
			case tc.want != nil:
				if !errors.Is(err, tc.want) {
					t.Errorf("err %v, want %v", err, tc.want)
				}
			case tc.wantCode != "":
				if !errors.As(err, &ae) || ae.ErrorCode() != tc.wantCode || errors.Is(err, blob.ErrExists) {
					t.Errorf("err %v, want the %s API error, unmapped", err, tc.wantCode)
				}
			case err != nil:
				t.Errorf("err %v, want success", err)
			}
			if f.calls != tc.wantCalls {
				t.Errorf("%d calls to S3, want %d", f.calls, tc.wantCalls)
			}
		})
	}
}

func put(key string) func(*s3store.Store) error {
	return func(s *s3store.Store) error { return s.Put(context.Background(), key, []byte("x")) }
}

func get(key string) func(*s3store.Store) error {
	return func(s *s3store.Store) error { _, err := s.Get(context.Background(), key); return err }
}
