package serve

import (
	"errors"
	"fmt"

	"github.com/churnops/churnops/internal/gbdt"
)

// GBDTLoader returns a Loader for churnops' gbdt artifacts that refuses any
// artifact whose feature spec is not expected (a model trained on other
// columns must never be served against these online features). A model
// with node covers is an Explainer, its contributions' tables built here,
// at load, rather than in the first request that asks for reasons; one
// trained before covers were recorded predicts but gives no reasons.
func GBDTLoader(expected []gbdt.Feature) Loader {
	return func(data []byte) (Model, error) {
		m, err := gbdt.Unmarshal(data)
		if err != nil {
			return nil, fmt.Errorf("decode artifact: %w", err)
		}
		if err := m.CheckFeatures(expected); err != nil {
			return nil, err
		}
		names := make([]string, m.NumFeatures())
		cats := map[string][]string{}
		for i, f := range m.Features() {
			names[i] = f.Name
			if f.Categorical {
				cats[f.Name] = f.Categories
			}
		}
		g := &gbdtModel{m: m, names: names, cats: cats}
		if !m.HasCovers() {
			return g, nil
		}
		if err := m.PrepareContributions(); err != nil {
			return nil, fmt.Errorf("prepare contributions: %w", err)
		}
		return &gbdtExplainer{g}, nil
	}
}

// gbdtModel adapts *gbdt.Model to Model.
type gbdtModel struct {
	m     *gbdt.Model
	names []string
	cats  map[string][]string // categorical feature -> its categories
}

func (g *gbdtModel) Encode(raw map[string]any, dst []float64) error {
	err := g.m.Encode(raw, dst)
	var fe *gbdt.FeatureValueError
	if errors.As(err, &fe) {
		return &FeatureError{Feature: fe.Feature, Reason: fe.Reason}
	}
	return err
}

// gbdtExplainer is a gbdtModel whose artifact has node covers.
type gbdtExplainer struct{ *gbdtModel }

var _ Explainer = gbdtExplainer{}

func (g gbdtExplainer) Explain(x, out []float64) error { return g.m.Contributions(x, out) }

func (g *gbdtModel) PredictProba(x []float64) float64   { return g.m.PredictProba(x) }
func (g *gbdtModel) NumFeatures() int                   { return g.m.NumFeatures() }
func (g *gbdtModel) FeatureNames() []string             { return g.names }
func (g *gbdtModel) Threshold() float64                 { return g.m.Threshold }
func (g *gbdtModel) Categories(feature string) []string { return g.cats[feature] }
