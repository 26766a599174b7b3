package gbdt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
)

// node is one node of the flat tree layout used for inference. The right
// child of a split is always left+1.
type node struct {
	value   float64 // split: numeric threshold (go left when x <= value); leaf: output
	feature int32   // split feature; -1 for a leaf
	left    int32   // index of the left child in Model.nodes
	catOff  int32   // categorical split: first word of its set in Model.cats; -1 if numeric
	ncat    int32   // categorical split: number of categories of the feature
	defLeft bool    // where missing values go
	// missLeft is defLeft as 0/1, for the branch-free numeric comparison.
	missLeft int32
}

// b2i is 1 for true and 0 for false; the compiler turns it into a SETcc.
func b2i(b bool) int32 {
	var i int32
	if b {
		i = 1
	}
	return i
}

// Model is a trained ensemble. It is immutable after Train or Load, so one
// Model may serve concurrent predictions. The exported fields are metadata
// that travel in the artifact; callers may set them before saving.
type Model struct {
	features []Feature
	base     float64
	nodes    []node
	roots    []int32
	cats     []uint64 // category sets of categorical splits, 64 categories a word
	tab      *tables  // the trees compiled for prediction; nil: walk them
	// covers[i] is the cover of nodes[i] (shap.go); nil for a model trained
	// before covers were recorded, which can predict but not explain.
	covers []float64
	xp     atomic.Pointer[explainer] // built on first use (shap.go)

	// Params are the hyper-parameters the model was trained with.
	Params Params
	// Meta records how and on what the model was trained.
	Meta Meta
	// Metrics are scores the caller computed (e.g. "val_auc"), kept with
	// the model so a registry can compare versions without re-scoring.
	Metrics map[string]float64
	// Threshold is the probability at or above which a prediction counts as
	// positive (0.5 by default).
	Threshold float64
}

// DefaultThreshold is the decision threshold new models carry.
const DefaultThreshold = 0.5

// newModel flattens bin-space trees into the inference layout, turning bin
// thresholds into raw-value thresholds.
func newModel(spec []Feature, b *binned, base float64, trees []ttree, p Params, meta Meta) *Model {
	m := &Model{
		features:  cloneSpec(spec),
		base:      base,
		Params:    p,
		Meta:      meta,
		Threshold: DefaultThreshold,
	}
	for _, t := range trees {
		root := int32(len(m.nodes))
		m.roots = append(m.roots, root)
		for _, tn := range t.nodes {
			n := node{feature: -1, catOff: -1, value: tn.value}
			if !tn.leaf {
				n.feature = int32(tn.feature)
				n.left = root + int32(tn.left)
				n.defLeft = tn.defaultLeft
				n.missLeft = b2i(tn.defaultLeft)
				if tn.categorical {
					k := len(spec[tn.feature].Categories)
					n.ncat = int32(k)
					n.catOff = int32(len(m.cats))
					words := make([]uint64, (k+63)/64)
					for c := range k {
						if tn.catLeft.hasInt(c + 1) {
							words[c>>6] |= 1 << (c & 63)
						}
					}
					m.cats = append(m.cats, words...)
				} else {
					n.value = b.upper[tn.feature][tn.threshold-1]
				}
			}
			m.nodes = append(m.nodes, n)
			m.covers = append(m.covers, tn.cover)
		}
	}
	m.tab = compileTables(m, maxTableCells, maxTablesTotal)
	return m
}

func cloneSpec(spec []Feature) []Feature {
	out := make([]Feature, len(spec))
	for i, f := range spec {
		out[i] = Feature{Name: f.Name, Categorical: f.Categorical, Categories: slices.Clone(f.Categories)}
	}
	return out
}

// Features returns a copy of the feature spec, in input order.
func (m *Model) Features() []Feature { return cloneSpec(m.features) }

// NumFeatures is the length of the rows PredictProba takes.
func (m *Model) NumFeatures() int { return len(m.features) }

// NumTrees is the number of trees in the ensemble.
func (m *Model) NumTrees() int { return len(m.roots) }

// PredictRaw returns the log-odds for one encoded row (see PredictProba).
// It reads the model's lookup tables (tables.go) when it has them.
func (m *Model) PredictRaw(x []float64) float64 {
	if len(x) < len(m.features) {
		panic(fmt.Sprintf("gbdt: row has %d values, model needs %d", len(x), len(m.features)))
	}
	if m.tab != nil {
		return m.tab.raw(x, m.base)
	}
	return m.walkRaw(x)
}

// walkRaw sums the trees one by one: the reference the tables are checked
// against, and the path of a model too large to compile.
func (m *Model) walkRaw(x []float64) float64 {
	s := m.base
	nodes := m.nodes
	for _, i := range m.roots {
		for {
			n := &nodes[i]
			if n.feature < 0 {
				s += n.value
				break
			}
			v := x[n.feature]
			if n.catOff < 0 {
				// Branch-free: right = left+1 unless v <= threshold, or v is
				// NaN (missing) and missing goes left.
				i = n.left + 1 - (b2i(v <= n.value) | b2i(v != v)&n.missLeft)
			} else if m.catGoesLeft(n, v) {
				i = n.left
			} else {
				i = n.left + 1
			}
		}
	}
	return s
}

// catGoesLeft routes value v through categorical split n; a missing value
// or unknown category code follows the default direction.
func (m *Model) catGoesLeft(n *node, v float64) bool {
	if v >= 0 && v < float64(n.ncat) && v == math.Trunc(v) {
		k := int(v)
		return m.cats[int(n.catOff)+k>>6]&(1<<(k&63)) != 0
	}
	return n.missLeft != 0
}

// PredictProba returns the probability of the positive class for one row
// encoded as Encode encodes it (len(x) >= NumFeatures, NaN = missing). It
// does not allocate. It panics if x is too short, as indexing would.
func (m *Model) PredictProba(x []float64) float64 { return sigmoid(m.PredictRaw(x)) }

// PredictBatch returns the probabilities of row-major rows, appended to
// dst[:0] (dst may be nil), so batch callers can reuse a buffer.
func (m *Model) PredictBatch(rows [][]float64, dst []float64) ([]float64, error) {
	dst = dst[:0]
	for i, x := range rows {
		if len(x) != len(m.features) {
			return dst, fmt.Errorf("gbdt: row %d has %d values, model needs %d", i, len(x), len(m.features))
		}
		dst = append(dst, m.PredictProba(x))
	}
	return dst, nil
}

// PredictColumns returns the probabilities of every row of column-major
// data laid out as Dataset.Cols, in the spec's feature order.
func (m *Model) PredictColumns(cols [][]float64) ([]float64, error) {
	if len(cols) != len(m.features) {
		return nil, fmt.Errorf("gbdt: %d columns, model needs %d", len(cols), len(m.features))
	}
	n := 0
	if len(cols) > 0 {
		n = len(cols[0])
	}
	for j, c := range cols {
		if len(c) != n {
			return nil, fmt.Errorf("gbdt: column %q has %d rows, column %q has %d", m.features[j].Name, len(c), m.features[0].Name, n)
		}
	}
	out := make([]float64, n)
	row := make([]float64, len(cols))
	for i := range out {
		for j, c := range cols {
			row[j] = c[i]
		}
		out[i] = m.PredictProba(row)
	}
	return out, nil
}

// ErrFeatureValue is wrapped by FeatureValueError, for callers that only
// need to know the input was bad (the /predict handler answers 400).
var ErrFeatureValue = errors.New("gbdt: invalid feature value")

// FeatureValueError reports a raw value Encode cannot use, naming the
// feature so the message can go back to the client.
type FeatureValueError struct {
	Feature string
	Value   any
	Reason  string
}

func (e *FeatureValueError) Error() string {
	return fmt.Sprintf("feature %q: %s (got %T %v)", e.Feature, e.Reason, e.Value, e.Value)
}

// Is makes errors.Is(err, ErrFeatureValue) true.
func (e *FeatureValueError) Is(target error) bool { return target == ErrFeatureValue }

// Encode writes the model row for a raw record (for example a JSON object
// decoded into map[string]any) into dst, which must have NumFeatures
// elements. Numeric features take float64, float32, any integer type,
// json.Number or a boolean (true = 1, false = 0); categorical features take
// the category string, and an unknown category becomes missing. nil or an
// absent key is missing. Keys that are not features are ignored. A value of
// the wrong type is a *FeatureValueError naming the feature.
func (m *Model) Encode(raw map[string]any, dst []float64) error {
	return Encode(m.features, raw, dst)
}

// Encode is Model.Encode for a bare feature spec, for callers that build
// rows before a model exists.
func Encode(spec []Feature, raw map[string]any, dst []float64) error {
	if len(dst) != len(spec) {
		return fmt.Errorf("gbdt: encode into %d values, spec has %d features", len(dst), len(spec))
	}
	for j, f := range spec {
		v, ok := raw[f.Name]
		if !ok || v == nil {
			dst[j] = math.NaN()
			continue
		}
		if f.Categorical {
			s, ok := v.(string)
			if !ok {
				return &FeatureValueError{Feature: f.Name, Value: v, Reason: "want a category string"}
			}
			dst[j] = math.NaN()
			if k := slices.Index(f.Categories, s); k >= 0 {
				dst[j] = float64(k)
			}
			continue
		}
		x, err := number(v)
		if err != nil {
			return &FeatureValueError{Feature: f.Name, Value: v, Reason: err.Error()}
		}
		dst[j] = x
	}
	return nil
}

// number converts a decoded JSON-ish value to float64.
func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, errors.New("want a number")
		}
		return f, nil
	}
	return 0, errors.New("want a number or a boolean")
}
