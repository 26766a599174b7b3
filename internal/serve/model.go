package serve

import "fmt"

// Model is a loaded, immutable model version. The service calls it from many
// goroutines at once, so every method must be safe for concurrent use.
type Model interface {
	// Encode writes the model's encoding of raw features into dst, which has
	// length NumFeatures(). raw maps a feature name to float64, bool, string
	// or nil (as the feature store and JSON decoding produce them); nil or an
	// absent key is a missing value, and keys the model does not use are
	// ignored (the service enforces the stricter inline-request contract
	// itself). A category the model does not know is encoded as missing, as
	// training encodes it, so that a new level in a monthly snapshot is
	// scored rather than failed. A value of the wrong type is reported as a
	// *FeatureError, possibly wrapped.
	Encode(raw map[string]any, dst []float64) error
	// PredictProba returns the churn probability for an encoded row. It must
	// not allocate (it runs on every request) nor modify x, which requests
	// for the same user share.
	PredictProba(x []float64) float64
	// NumFeatures is the length of an encoded row.
	NumFeatures() int
	// FeatureNames lists the raw features the model reads, in model order.
	// The service does not modify the returned slice.
	FeatureNames() []string
	// Threshold is the probability at or above which the prediction is 1.
	Threshold() float64
	// Categories lists the accepted values of a categorical feature, and is
	// nil for any other name. Inline features are checked against them: a
	// client's unknown category is a 400, not a silent missing value.
	Categories(feature string) []string
}

// Explainer is a Model that can explain its predictions: the reasons POST
// /predict/details answers with "include": ["reasons"]. A model that cannot
// (a gbdt model trained before node covers were recorded) does not
// implement it, and such requests are answered 409 reasons_unavailable.
type Explainer interface {
	Model
	// Explain writes the contributions of encoded row x to the
	// prediction's log-odds into out, which has NumFeatures()+1 elements:
	// one per feature in FeatureNames order, then the bias (the model's
	// expected log-odds); they sum to the log-odds. A positive
	// contribution raises the churn probability. It must not allocate nor
	// modify x, and must be safe for concurrent use.
	Explain(x []float64, out []float64) error
}

// Loader decodes a model artifact's bytes (as stored under a registry
// Version's ArtifactKey) into a Model. It is called on (re)load only.
type Loader func(data []byte) (Model, error)

// FeatureError reports a raw feature value a model cannot encode. Model.Encode
// returns it so that the service can answer 400 naming the feature for inline
// features; for features read from the online store it is a data fault (500).
type FeatureError struct {
	Feature string // feature name
	Reason  string // what is wrong, safe to show clients: "want a number, got string"
}

// Error implements error.
func (e *FeatureError) Error() string {
	return fmt.Sprintf("feature %q: %s", e.Feature, e.Reason)
}
