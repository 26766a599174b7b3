package gbdt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// The artifact is one compact JSON document:
//
//	{"schema_version":1,"kind":"gbdt/binary-logloss","layout":"...",
//	 "sha256":"<hex of the bytes of model>","model":{...}}
//
// model holds the feature spec (names, categorical flags, categories in
// encoding order), the base score (log-odds), the decision threshold, the
// hyper-parameters, the training metadata, the caller's metrics and the
// trees. Each tree is a struct of arrays indexed by node (root = 0):
//
//	feature[i]          split feature index, -1 for a leaf
//	value[i]            leaf: output added to the log-odds; numeric split:
//	                    threshold, go left when x <= value ("+Inf" allowed);
//	                    categorical split: 0
//	left[i]             left child (right child = left+1); -1 for a leaf
//	default_left[i]     where a missing value (or unknown category) goes
//	categories_left[i]  categorical split: category indices going left
//	cover[i]            optional: the hessian sum of the training rows that
//	                    reached the node in its boosting round (XGBoost's
//	                    sum_hessian), which TreeSHAP needs; absent in models
//	                    trained before it was recorded (all trees or none)
//
// Thresholds are raw feature values, so inference needs no bin edges or
// training code. The checksum covers the exact bytes of "model", so any
// corruption is detected; reformatting the file invalidates it too, which is
// why the file is written compact. JSON was chosen over a binary format
// because the artifact must be self-describing and inspectable with jq; at a
// few hundred kilobytes its size does not matter.

// SchemaVersion is the artifact layout this package writes and reads.
// Bump it whenever the layout changes meaning.
const SchemaVersion = 1

// Kind names the model family in the artifact, so a reader can refuse a
// file of another family instead of mis-reading it.
const Kind = "gbdt/binary-logloss"

const layout = "trees are node arrays: feature<0 is a leaf adding value to the log-odds; " +
	"else go to left if x<=value (numeric) or x in categories_left (categorical), otherwise to left+1; " +
	"missing or unknown values follow default_left; probability = sigmoid(base_score + sum of leaves)"

// Sentinel errors for artifact problems callers branch on.
var (
	// ErrCorrupt: the artifact is truncated, altered or structurally invalid.
	ErrCorrupt = errors.New("gbdt: corrupt model artifact")
	// ErrSchemaVersion: the artifact was written with another layout.
	ErrSchemaVersion = errors.New("gbdt: unsupported artifact schema version")
	// ErrKind: the artifact holds another kind of model.
	ErrKind = errors.New("gbdt: unsupported model kind")
	// ErrFeatureMismatch: the model's feature spec is not the expected one.
	ErrFeatureMismatch = errors.New("gbdt: feature spec mismatch")
)

// SchemaVersionError reports an artifact of another schema version.
type SchemaVersionError struct{ Got, Want int }

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("gbdt: artifact schema version %d, this build reads %d", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrSchemaVersion) true.
func (e *SchemaVersionError) Is(target error) bool { return target == ErrSchemaVersion }

// FeatureMismatchError tells which feature differs from the expected spec.
type FeatureMismatchError struct {
	Index   int    // position in the spec, -1 when the lengths differ
	Feature string // name in the model's spec, if any
	Reason  string
}

func (e *FeatureMismatchError) Error() string {
	if e.Index < 0 {
		return "gbdt: feature spec mismatch: " + e.Reason
	}
	return fmt.Sprintf("gbdt: feature spec mismatch at %d (%q): %s", e.Index, e.Feature, e.Reason)
}

// Is makes errors.Is(err, ErrFeatureMismatch) true.
func (e *FeatureMismatchError) Is(target error) bool { return target == ErrFeatureMismatch }

// CheckFeatures reports a *FeatureMismatchError unless the model's spec is
// exactly expected: same names in the same order, same kinds, same
// categories in the same order (their order is the encoding).
func (m *Model) CheckFeatures(expected []Feature) error {
	if len(expected) != len(m.features) {
		return &FeatureMismatchError{Index: -1, Reason: fmt.Sprintf("model has %d features, expected %d", len(m.features), len(expected))}
	}
	for i, want := range expected {
		got := m.features[i]
		mismatch := func(format string, a ...any) error {
			return &FeatureMismatchError{Index: i, Feature: got.Name, Reason: fmt.Sprintf(format, a...)}
		}
		switch {
		case got.Name != want.Name:
			return mismatch("expected feature %q", want.Name)
		case got.Categorical != want.Categorical:
			return mismatch("categorical = %t, expected %t", got.Categorical, want.Categorical)
		case !slices.Equal(got.Categories, want.Categories):
			return mismatch("categories %q, expected %q", got.Categories, want.Categories)
		}
	}
	return nil
}

type envelope struct {
	SchemaVersion int             `json:"schema_version"`
	Kind          string          `json:"kind"`
	Layout        string          `json:"layout"`
	SHA256        string          `json:"sha256"`
	Model         json.RawMessage `json:"model"`
}

type modelJSON struct {
	Features  []Feature          `json:"features"`
	BaseScore float64            `json:"base_score"`
	Threshold float64            `json:"threshold"`
	Params    Params             `json:"params"`
	Meta      Meta               `json:"meta"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	Trees     []treeJSON         `json:"trees"`
}

type treeJSON struct {
	Feature        []int32     `json:"feature"`
	Value          []jsonFloat `json:"value"`
	Left           []int32     `json:"left"`
	DefaultLeft    []bool      `json:"default_left"`
	CategoriesLeft [][]int     `json:"categories_left"`
	Cover          []jsonFloat `json:"cover,omitempty"`
}

// jsonFloat is a float64 that may be ±Inf, written as the strings "+Inf"
// and "-Inf" (plain JSON numbers cannot hold infinities).
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	switch x := float64(f); {
	case math.IsInf(x, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(x, -1):
		return []byte(`"-Inf"`), nil
	case math.IsNaN(x):
		return nil, errors.New("NaN value")
	default:
		return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
	}
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"+Inf"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("bad number %s", b)
	}
	*f = jsonFloat(x)
	return nil
}

// Marshal encodes the model as an artifact (see the layout above). It fails
// if a metric or threshold is NaN or infinite, rather than writing it.
func (m *Model) Marshal() ([]byte, error) {
	mj := modelJSON{
		Features:  m.features,
		BaseScore: m.base,
		Threshold: m.Threshold,
		Params:    m.Params,
		Meta:      m.Meta,
		Metrics:   m.Metrics,
		Trees:     make([]treeJSON, len(m.roots)),
	}
	for t, root := range m.roots {
		end := int32(len(m.nodes))
		if t+1 < len(m.roots) {
			end = m.roots[t+1]
		}
		nodes := m.nodes[root:end]
		tj := treeJSON{
			Feature:        make([]int32, len(nodes)),
			Value:          make([]jsonFloat, len(nodes)),
			Left:           make([]int32, len(nodes)),
			DefaultLeft:    make([]bool, len(nodes)),
			CategoriesLeft: make([][]int, len(nodes)),
		}
		for i, n := range nodes {
			tj.Feature[i], tj.Value[i], tj.DefaultLeft[i], tj.Left[i] = n.feature, jsonFloat(n.value), n.defLeft, -1
			if n.feature >= 0 {
				tj.Left[i] = n.left - root
			}
			if n.catOff >= 0 {
				cats := []int{}
				for k := range int(n.ncat) {
					if m.cats[int(n.catOff)+k>>6]&(1<<(k&63)) != 0 {
						cats = append(cats, k)
					}
				}
				tj.CategoriesLeft[i] = cats
			}
		}
		if m.covers != nil {
			tj.Cover = make([]jsonFloat, len(nodes))
			for i, c := range m.covers[root:end] {
				tj.Cover[i] = jsonFloat(c)
			}
		}
		mj.Trees[t] = tj
	}
	body, err := json.Marshal(mj)
	if err != nil {
		return nil, fmt.Errorf("gbdt: encode model: %w", err)
	}
	sum := sha256.Sum256(body)
	out, err := json.Marshal(envelope{
		SchemaVersion: SchemaVersion, Kind: Kind, Layout: layout,
		SHA256: hex.EncodeToString(sum[:]), Model: body,
	})
	if err != nil {
		return nil, fmt.Errorf("gbdt: encode artifact: %w", err)
	}
	return out, nil
}

// Save writes the artifact to w.
func (m *Model) Save(w io.Writer) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("gbdt: write artifact: %w", err)
	}
	return nil
}

// Load reads an artifact from r (see Unmarshal).
func Load(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("gbdt: read artifact: %w", err)
	}
	return Unmarshal(b)
}

// Unmarshal decodes and fully validates an artifact, so that a model it
// returns can never index out of range at prediction time. It returns an
// error wrapping ErrCorrupt, a *SchemaVersionError or an error wrapping
// ErrKind. Check the feature spec with CheckFeatures.
func Unmarshal(b []byte) (*Model, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the artifact", ErrCorrupt)
	}
	if env.SchemaVersion != SchemaVersion {
		if env.SchemaVersion == 0 {
			return nil, fmt.Errorf("%w: no schema_version", ErrCorrupt)
		}
		return nil, &SchemaVersionError{Got: env.SchemaVersion, Want: SchemaVersion}
	}
	if env.Kind != Kind {
		return nil, fmt.Errorf("%w: %q, this build reads %q", ErrKind, env.Kind, Kind)
	}
	sum := sha256.Sum256(env.Model)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	var mj modelJSON
	if err := json.Unmarshal(env.Model, &mj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	m, err := fromJSON(&mj)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return m, nil
}

// fromJSON validates the decoded model and builds the inference layout.
func fromJSON(mj *modelJSON) (*Model, error) {
	if err := validateSpec(mj.Features); err != nil {
		return nil, err
	}
	if math.IsNaN(mj.BaseScore) || math.IsInf(mj.BaseScore, 0) {
		return nil, fmt.Errorf("base score %v", mj.BaseScore)
	}
	if !(mj.Threshold >= 0 && mj.Threshold <= 1) {
		return nil, fmt.Errorf("threshold %v outside [0, 1]", mj.Threshold)
	}
	if len(mj.Trees) == 0 {
		return nil, errors.New("no trees")
	}
	m := &Model{
		features:  cloneSpec(mj.Features),
		base:      mj.BaseScore,
		Params:    mj.Params,
		Meta:      mj.Meta,
		Metrics:   mj.Metrics,
		Threshold: mj.Threshold,
	}
	nf := int32(len(mj.Features))
	withCovers := mj.Trees[0].Cover != nil
	for t, tj := range mj.Trees {
		n := len(tj.Feature)
		if n == 0 || len(tj.Value) != n || len(tj.Left) != n || len(tj.DefaultLeft) != n || len(tj.CategoriesLeft) != n {
			return nil, fmt.Errorf("tree %d: node arrays are empty or differ in length", t)
		}
		if err := checkCovers(tj.Cover, n, withCovers); err != nil {
			return nil, fmt.Errorf("tree %d: %w", t, err)
		}
		for _, c := range tj.Cover {
			m.covers = append(m.covers, float64(c))
		}
		root := int32(len(m.nodes))
		m.roots = append(m.roots, root)
		for i := range n {
			bad := func(format string, a ...any) error {
				return fmt.Errorf("tree %d node %d: %s", t, i, fmt.Sprintf(format, a...))
			}
			v := float64(tj.Value[i])
			nd := node{feature: tj.Feature[i], value: v, defLeft: tj.DefaultLeft[i], missLeft: b2i(tj.DefaultLeft[i]), catOff: -1}
			switch f := tj.Feature[i]; {
			case f < 0:
				if f != -1 || tj.Left[i] != -1 || tj.CategoriesLeft[i] != nil {
					return nil, bad("malformed leaf")
				}
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, bad("leaf value %v", v)
				}
			case f >= nf:
				return nil, bad("feature %d of %d", f, nf)
			default:
				// Children come after their parent, so every walk ends.
				if l := tj.Left[i]; l <= int32(i) || int(l)+1 >= n {
					return nil, bad("child %d out of order or range", l)
				}
				nd.left = root + tj.Left[i]
				spec := mj.Features[f]
				if !spec.Categorical {
					if tj.CategoriesLeft[i] != nil || math.IsNaN(v) {
						return nil, bad("malformed numeric split")
					}
					break
				}
				if tj.CategoriesLeft[i] == nil || v != 0 {
					return nil, bad("malformed categorical split")
				}
				k := len(spec.Categories)
				nd.ncat, nd.catOff = int32(k), int32(len(m.cats))
				words := make([]uint64, (k+63)/64)
				for _, c := range tj.CategoriesLeft[i] {
					if c < 0 || c >= k {
						return nil, bad("category %d of %d", c, k)
					}
					words[c>>6] |= 1 << (c & 63)
				}
				m.cats = append(m.cats, words...)
			}
			m.nodes = append(m.nodes, nd)
		}
	}
	m.tab = compileTables(m, maxTableCells, maxTablesTotal)
	return m, nil
}

// checkCovers validates one tree's optional covers: present in every tree or
// in none, one per node, finite and not negative.
func checkCovers(cover []jsonFloat, n int, want bool) error {
	switch {
	case (cover != nil) != want:
		return errors.New("cover present in some trees only")
	case cover != nil && len(cover) != n:
		return fmt.Errorf("%d covers for %d nodes", len(cover), n)
	}
	for i, c := range cover {
		if !(c >= 0) || math.IsInf(float64(c), 0) {
			return fmt.Errorf("node %d: cover %v", i, float64(c))
		}
	}
	return nil
}
