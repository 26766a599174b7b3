// Package infra holds the scripts that deploy template.yaml to AWS (see
// README.md beside this file) and the test that reads the template the way
// a security review would.
//
// The package has no code. Its test parses template.yaml (short-form tags
// such as !If and !Sub included) and checks what no linter knows about
// this stack: every API route but /health carries an authorization
// setting in both ApiAuth modes, /predict/details is IAM only, the routes
// are those internal/serve answers, every function, the API stage and the
// state machine log to a group with the retention parameter, each function
// may write only under its own bucket prefixes and delete nothing, Predict
// reads customers by key only, the bucket refuses plain HTTP, and each
// checkov skip says why.
package infra
