// Package serve is the /predict service: it answers churn predictions for
// users of the online feature store (or for inline features) with the
// registry's current Production model, from the same http.Handler in Lambda
// (behind API Gateway, see internal/apigw) and on a laptop (churnops serve).
//
// # Routes
//
//	POST /predict           one user, a batch of users, or inline features
//	POST /predict/details   the same, and the per-customer parts the request includes
//	GET  /health            liveness: 200 while the process runs
//	GET  /ready             200 when a model is loaded and a version of online features is readable, else 503
//	GET  /model             the loaded model: name, version, as_of, metrics, loaded_at
//	GET  /metrics           Prometheus text format (ServerHandler only, not in Lambda)
//
// # Authentication
//
// Every route but /health requires the caller to authenticate. The service
// itself does not check identities in Lambda: API Gateway does, before the
// function runs (IAM SigV4 by default, or API keys; see template.yaml), and
// the two /predict routes are separate methods so that IAM can grant
// /predict/details apart. The local server (ServerHandler) checks a bearer
// token when Config.Token is set: "Authorization: Bearer <token>", compared
// in constant time, else 401 unauthorized.
//
// # Request contract
//
// The body is one JSON object with exactly one of:
//
//	{"user_id": "7590-VHVEG"}                        features from the online store
//	{"user_ids": ["7590-VHVEG", "5575-GNVDE"]}       a batch (1..Config.MaxBatch ids)
//	{"features": {...}, "user_id": "optional"}       inline features (user_id only echoed)
//
// and optionally "include": [...], the per-customer parts to add to each
// prediction (an allow-list; see Include):
//
//	"features"   features_used: the raw values the prediction read
//	"reasons"    reasons: the features that moved this prediction most
//
// with "reasons_k": how many reasons (an integer from 1 to MaxReasonsK, 3 by
// default), allowed only with "reasons" included. An include is served only
// by POST /predict/details; POST /predict answers it with 403 forbidden,
// never by dropping it silently. Unknown values, and reasons_k without
// "reasons" or out of range, are 400 invalid_request.
//
// Decoding is strict: field names are matched exactly (case-sensitive),
// unknown fields, trailing data after the object, and values of the wrong
// JSON type are 400 invalid_request. A user id is 1 to 128 bytes of valid
// UTF-8 without control characters. The Content-Type may be omitted; when
// present it must be application/json, text/json or application/*+json
// (parameters such as charset are ignored), else 415. Bodies over
// Config.MaxBodyBytes (64 KiB by default) are 413 body_too_large.
//
// Inline features must name every feature of the model's feature spec, no
// more: a missing value is sent as JSON null, never by leaving the key out,
// so that a typo cannot silently become a missing value. Unknown or absent
// names, values of the wrong type and categories the model does not know
// are 400 invalid_request with the offending name in the message and in
// error.feature. Features read from the online store are not held to the
// categories: a level the model never saw (new in a monthly snapshot) is
// scored as missing, as training encodes it.
//
// # Responses
//
// A single prediction:
//
//	{"user_id":"7590-VHVEG","churn_probability":0.73,"prediction":1,
//	 "model_name":"churn","model_version":3,"as_of":"2024-01-31"}
//
// prediction is 1 when churn_probability >= the model's threshold. as_of is
// the snapshot date of the features (null for inline features); user_id is
// null for inline features sent without one. With "include": ["features"]
// on /predict/details it also carries
//
//	"features_used":{"months_active":1,...}
//
// the model's features in model order with the raw values the prediction
// used. With "include": ["reasons"] it carries
//
//	"reasons":{"bias":-0.0412,"log_odds":1.0127,"top":[
//	  {"feature":"months_active","value":1,"contribution":0.8312,"direction":"raises"},
//	  {"feature":"failed_payments_90d","value":2,"contribution":0.4121,"direction":"raises"},
//	  {"feature":"watch_hours_30d","value":24.2,"contribution":-0.2264,"direction":"lowers"}]}
//
// the prediction's log-odds split exactly (path-dependent TreeSHAP, see
// internal/gbdt) into the bias, the model's expected log-odds, plus one
// contribution per feature: bias + every feature's contribution = log_odds
// = logit(churn_probability). top lists the reasons_k features with the
// largest |contribution| (ties in model order), each with the customer's
// raw value (as stored or sent; null when missing) and "raises" or "lowers"
// the churn risk; a feature contributing exactly 0 is never a reason, so
// top may be shorter. The model explains each request (Explainer): for a
// large-tree model it is a few µs to tens of µs (see the README's figures),
// its tables built when the model is loaded. A model that cannot explain (a
// gbdt artifact trained before node covers were recorded) answers a request
// for reasons 409 reasons_unavailable, saying to retrain; everything else it
// answers as before.
//
// A batch answers {"predictions":[...]} in request order (duplicates
// included), each item as a single prediction, includes too. An unknown user in a batch does not fail the batch: its item is
// {"user_id":"…","error":{"code":"user_not_found","message":"…"}}. Any other
// failure (feature store down, corrupt record) fails the whole batch with
// 500, since retrying the batch is then the right move.
//
// Errors are {"error":{"code":"…","message":"…"}} with the stable codes
// below; Error.Status is the one place codes map to HTTP statuses. The
// message of a 500 is always generic: the cause is logged with the request
// id (X-Request-Id, echoed or generated), never sent.
//
//	400 invalid_request        malformed JSON, wrong types, unknown fields, bad features or include values
//	401 unauthorized           local server: bearer token missing or wrong (WWW-Authenticate: Bearer)
//	403 forbidden              an include sent to POST /predict instead of /predict/details
//	409 reasons_unavailable    reasons asked of a model that cannot explain (trained before reasons: retrain)
//	404 user_not_found         no online features for the user
//	404 not_found              unknown path
//	405 method_not_allowed     wrong method (Allow header set)
//	413 body_too_large         body over the limit
//	415 unsupported_media_type non-JSON Content-Type
//	500 internal               anything else
//	503 no_production_model    no model loaded (none in Production yet, or it failed to load)
//	503 not_ready              no online features published yet, or /ready: they cannot be read
//
// # Hot reload
//
// The loaded model sits in an atomic.Pointer. Requests check, at most once
// per Config.ReloadInterval (30s by default), whether the registry's
// Production version changed; one check runs at a time and the other
// requests keep serving the current model meanwhile (only when no model is
// loaded at all do they wait for the check). This lazy, time-gated check
// works both on a long-running server and in Lambda, where no goroutine runs
// between invocations. A changed version (a promotion or a rollback) is
// loaded through Config.Blobs and Config.Loader and swapped in atomically;
// requests in flight finish with the model they started with. A failed load
// keeps the previous model, is logged and counted, and is retried after the
// interval. A registry that reports no Production version while a model is
// loaded keeps that model (and logs it): taking a working service down is
// never the safer choice.
//
// # Online features
//
// Config.Features is read once per user per request, from the version of
// online features it serves (a customer absent from that month is 404).
// GET /ready asks it which version it serves: 200 means a model is loaded
// and that version is readable, so /predict can answer. When it is a
// featurestore.Cache (as in churnops serve), the service also keeps, in the
// cache entry's memo, the user's encoded row and rendered features_used for
// the loaded model: they are made on the first request for that record and
// model, and dropped with the entry when the record is re-read or another
// model is loaded, so a request pays for the model and little else. The
// model itself runs on every request; predictions and reasons are never
// cached.
package serve
