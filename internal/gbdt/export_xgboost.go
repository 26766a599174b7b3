package gbdt

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Export to XGBoost's JSON model format.
//
// MarshalXGBoostJSON writes the model as XGBoost (3.1 or later) saves a
// binary:logistic gbtree booster, so that xgboost.Booster(model_file=...)
// loads it and predict, pred_contribs (TreeSHAP, from the covers) and the
// other tools work on it. XGBoost's JSON model format has no published
// schema any more (doc/model.schema was dropped in 3.2, "the underlying
// schema of the model is not changed"); what is written here follows that
// schema and src/tree/tree_model.cc, and scripts/check-export.sh checks the result
// against XGBoost itself on every customer of the lab's months.
//
// Where the two formats differ:
//
//   - Numbers. XGBoost reads every split condition, leaf and input value as
//     a float32 and goes left when x < condition; churnops compares float64s
//     and goes left when x <= threshold. The condition written is the least
//     float32 above the threshold, so that for every float32 input v,
//     v < condition exactly when float64(v) <= threshold: every input
//     XGBoost can see is routed as churnops routes it. (A float64 input is
//     rounded to float32 by XGBoost first; the routing then agrees unless a
//     threshold falls between a value and its float32 rounding, which the
//     export test rules out on the lab's months.) Leaves and covers are
//     rounded to float32, XGBoost's precision.
//   - Categorical splits. XGBoost sends the categories it lists to the
//     right child and everything else, including codes beyond the listed
//     ones, to the left; missing values follow default_left. churnops sends
//     its listed categories left and missing values and unknown codes the
//     default way. So the export puts churnops' default child on XGBoost's
//     left (swapping the children when the default is right), lists the
//     categories that go the other way, and sets default_left: unknown codes
//     then go the default way in both. A split that sends every category the
//     default way lists nothing, which XGBoost forbids: it is written as a
//     numeric split that sends everything left (condition +Inf).
//   - Base score. churnops' base is a log-odds margin. XGBoost's base_score
//     is a probability whose logit is taken in float32; instead, base_score
//     is 0.5 (a margin of exactly 0) and tree 0 is a single leaf holding
//     churnops' base, so margins agree to float32 rounding and XGBoost's
//     pred_contribs bias (base margin + each tree's expected value) is
//     churnops' bias.
//   - Categories. feature_types is "c" for categorical features and "float"
//     for the others, and the booster records each categorical feature's
//     categories (XGBoost 3.1's "cats"), so XGBoost re-codes a pandas
//     DataFrame's category columns by name before predicting.
//
// Gains (loss_changes) are not recorded by churnops and are written as 0,
// so XGBoost's "gain" importances are 0; "cover" and "weight" are right.

// XGBoostVersion is the XGBoost version the export claims to be written by
// (the JSON "version"); scripts/check-export.sh pins the same version.
var XGBoostVersion = [3]int{3, 2, 0}

// MarshalXGBoostJSON returns the model in XGBoost's JSON model format (see
// above). It returns ErrNoCovers for a model trained before covers were
// recorded: the format requires sum_hessian, and writing zeros would make
// XGBoost's pred_contribs silently wrong.
func (m *Model) MarshalXGBoostJSON() ([]byte, error) {
	if m.covers == nil {
		return nil, ErrNoCovers
	}
	// Tree 0: churnops' base score, a single leaf.
	trees := []xgbTree{{
		cover: []float64{m.covers[m.roots[0]]}, left: []int32{-1}, right: []int32{-1},
		parent: []int32{xgbNoParent}, feature: []int32{0}, cond: []float64{m.base},
		weight: []float64{m.base}, splitType: []int32{0}, defLeft: []int32{0},
	}}
	for _, t := range m.xgbTreeOrder() {
		tr, err := m.xgbTree(t)
		if err != nil {
			return nil, err
		}
		trees = append(trees, tr)
	}
	nf := strconv.Itoa(len(m.features))
	w := &jsonWriter{}
	w.raw(`{"learner":{"attributes":{},"feature_names":[`)
	for j, f := range m.features {
		w.sep(j)
		w.str(f.Name)
	}
	w.raw(`],"feature_types":[`)
	for j, f := range m.features {
		w.sep(j)
		if f.Categorical {
			w.raw(`"c"`)
		} else {
			w.raw(`"float"`)
		}
	}
	w.raw(`],"gradient_booster":{"model":{"cats":`)
	m.writeXGBCats(w)
	n := strconv.Itoa(len(trees))
	w.raw(`,"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"` + n + `"},"iteration_indptr":[`)
	for i := range len(trees) + 1 {
		w.sep(i)
		w.int(int64(i))
	}
	w.raw(`],"tree_info":[`)
	for i := range trees {
		w.sep(i)
		w.raw("0")
	}
	w.raw(`],"trees":[`)
	for i := range trees {
		w.sep(i)
		trees[i].write(w, i, nf)
	}
	w.raw(`]},"name":"gbtree"},"learner_model_param":{"base_score":"5E-1","boost_from_average":"0","num_class":"0","num_feature":"` + nf +
		`","num_target":"1"},"objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[`)
	for i, v := range XGBoostVersion {
		w.sep(i)
		w.int(int64(v))
	}
	w.raw("]}")
	return w.b, nil
}

// xgbNoParent is the parent XGBoost records for a root.
const xgbNoParent = math.MaxInt32

// xgbTree is one tree in XGBoost's layout: node arrays, children by index.
type xgbTree struct {
	cover, cond, weight                     []float64
	left, right, parent, feature, splitType []int32
	defLeft                                 []int32
	// Categorical splits: their nodes, and for each the categories it sends
	// right as cats[seg[k]:seg[k]+size[k]].
	catNodes, cats, catSeg, catSize []int32
}

// xgbTreeOrder is the order the export writes churnops' trees in (after
// tree 0, the base score): XGBoost sums the trees' outputs and
// contributions in float32, in file order, and the sum is the same in any
// order but its rounding is not. Trees whose leaves are smallest go first,
// so the running sums stay small (and their rounding too) for as long as
// possible: on the lab's months this halves the largest difference from
// churnops' float64 log-odds.
func (m *Model) xgbTreeOrder() []int {
	scale := make([]float64, len(m.roots))
	for t := range m.roots {
		for i := m.roots[t]; i < m.treeEnd(t); i++ {
			if m.nodes[i].feature < 0 {
				scale[t] = max(scale[t], math.Abs(m.nodes[i].value))
			}
		}
	}
	order := make([]int, len(m.roots))
	for t := range order {
		order[t] = t
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(scale[a], scale[b]) })
	return order
}

// xgbTree converts tree t. Nodes are renumbered breadth first, each
// split's two children consecutively, XGBoost's left one first, as XGBoost
// numbers its own trees (its pred_contribs aborts on a tree whose right
// child comes before its left one).
func (m *Model) xgbTree(t int) (xgbTree, error) {
	root, end := m.roots[t], m.treeEnd(t)
	n := int(end - root)
	tr := xgbTree{
		cover: make([]float64, n), cond: make([]float64, n), weight: make([]float64, n),
		left: make([]int32, n), right: make([]int32, n), parent: make([]int32, n), feature: make([]int32, n),
		splitType: make([]int32, n), defLeft: make([]int32, n),
	}
	order := make([]int32, 1, n) // order[id] is the churnops node (from root) numbered id
	tr.parent[0] = xgbNoParent
	for id := 0; id < len(order); id++ {
		i := order[id]
		if i < 0 || int(i) >= n {
			return xgbTree{}, fmt.Errorf("gbdt: tree %d: node %d out of range", t, i)
		}
		nd := &m.nodes[root+i]
		tr.cover[id] = m.covers[root+i]
		if nd.feature < 0 {
			tr.left[id], tr.right[id] = -1, -1
			tr.cond[id], tr.weight[id] = nd.value, nd.value
			continue
		}
		l, r := nd.left-root, nd.left-root+1
		tr.feature[id] = nd.feature
		if nd.catOff >= 0 {
			// XGBoost's left child is churnops' default one; list the
			// categories that go the other way.
			if !nd.defLeft {
				l, r = r, l
			}
			tr.defLeft[id] = 1
			start := len(tr.cats)
			for k := range nd.ncat {
				left := m.cats[int(nd.catOff)+int(k)>>6]&(1<<(k&63)) != 0
				if left != nd.defLeft {
					tr.cats = append(tr.cats, k)
				}
			}
			if len(tr.cats) == start {
				// Every category goes the default way: so does everything.
				tr.cond[id] = math.Inf(1)
			} else {
				tr.splitType[id] = 1
				tr.catNodes = append(tr.catNodes, int32(id))
				tr.catSeg = append(tr.catSeg, int32(start))
				tr.catSize = append(tr.catSize, int32(len(tr.cats)-start))
			}
		} else {
			tr.cond[id] = float64(XGBoostCondition(nd.value))
			tr.defLeft[id] = b2i(nd.defLeft)
		}
		c := int32(len(order))
		if int(c)+2 > n {
			return xgbTree{}, fmt.Errorf("gbdt: tree %d: more splits than nodes", t)
		}
		tr.left[id], tr.right[id] = c, c+1
		tr.parent[c], tr.parent[c+1] = int32(id), int32(id)
		order = append(order, l, r)
	}
	if len(order) != n {
		return xgbTree{}, fmt.Errorf("gbdt: tree %d: %d of its %d nodes reachable", t, len(order), n)
	}
	return tr, nil
}

// write writes the tree as XGBoost's tree object number id.
func (tr *xgbTree) write(w *jsonWriter, id int, nf string) {
	w.raw(`{"base_weights":`)
	w.floats(tr.weight)
	w.raw(`,"categories":`)
	w.ints(tr.cats)
	w.raw(`,"categories_nodes":`)
	w.ints(tr.catNodes)
	w.raw(`,"categories_segments":`)
	w.ints(tr.catSeg)
	w.raw(`,"categories_sizes":`)
	w.ints(tr.catSize)
	w.raw(`,"default_left":`)
	w.ints(tr.defLeft)
	w.raw(`,"id":`)
	w.int(int64(id))
	w.raw(`,"left_children":`)
	w.ints(tr.left)
	w.raw(`,"loss_changes":`)
	w.floats(make([]float64, len(tr.left)))
	w.raw(`,"parents":`)
	w.ints(tr.parent)
	w.raw(`,"right_children":`)
	w.ints(tr.right)
	w.raw(`,"split_conditions":`)
	w.floats(tr.cond)
	w.raw(`,"split_indices":`)
	w.ints(tr.feature)
	w.raw(`,"split_type":`)
	w.ints(tr.splitType)
	w.raw(`,"sum_hessian":`)
	w.floats(tr.cover)
	w.raw(`,"tree_param":{"num_deleted":"0","num_feature":"` + nf + `","num_nodes":"` + strconv.Itoa(len(tr.left)) + `","size_leaf_vector":"1"}}`)
}

// XGBoostCondition returns the float32 split condition XGBoost needs to
// route as churnops' threshold t does: the least float32 c with
// float64(c) > t, so that for every float32 v, v < c exactly when
// float64(v) <= t. For t = +Inf it is +Inf (every finite value goes left).
func XGBoostCondition(t float64) float32 {
	c := float32(t) // nearest
	if float64(c) <= t {
		c = math.Nextafter32(c, float32(math.Inf(1)))
	}
	return c
}

// writeXGBCats writes XGBoost 3.1's record of the training data's
// categories: per feature its category names (arrow-style offsets into
// UTF-8 bytes), a CSR pointer of the features' category counts, and each
// categorical feature's argsort.
func (m *Model) writeXGBCats(w *jsonWriter) {
	var segments, sorted []int32
	segments = append(segments, 0)
	w.raw(`{"enc":[`)
	for j, f := range m.features {
		w.sep(j)
		var offsets, values []int32
		if f.Categorical {
			offsets = append(offsets, 0)
			for _, name := range f.Categories {
				for _, b := range []byte(name) {
					values = append(values, int32(b))
				}
				offsets = append(offsets, int32(len(values)))
			}
			idx := make([]int32, len(f.Categories))
			for k := range idx {
				idx[k] = int32(k)
			}
			slices.SortStableFunc(idx, func(a, b int32) int { return strings.Compare(f.Categories[a], f.Categories[b]) })
			sorted = append(sorted, idx...)
		}
		w.raw(`{"offsets":`)
		w.ints(offsets)
		w.raw(`,"values":`)
		w.ints(values)
		w.raw("}")
		segments = append(segments, segments[len(segments)-1]+int32(len(f.Categories)))
	}
	w.raw(`],"feature_segments":`)
	w.ints(segments)
	w.raw(`,"sorted_idx":`)
	w.ints(sorted)
	w.raw("}")
}

// jsonWriter appends JSON the way XGBoost's reader needs it: numbers that
// are floats always carry an exponent (XGBoost takes a number without '.'
// or 'e' for an integer) and infinities are written Infinity, which
// encoding/json refuses to produce.
type jsonWriter struct{ b []byte }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) sep(i int) {
	if i > 0 {
		w.b = append(w.b, ',')
	}
}

func (w *jsonWriter) str(s string) {
	q, _ := json.Marshal(s) // a string always encodes
	w.b = append(w.b, q...)
}

func (w *jsonWriter) int(v int64) { w.b = strconv.AppendInt(w.b, v, 10) }

func (w *jsonWriter) ints(v []int32) {
	w.b = append(w.b, '[')
	for i, x := range v {
		w.sep(i)
		w.int(int64(x))
	}
	w.b = append(w.b, ']')
}

// floats writes v rounded to float32, XGBoost's precision, each in its
// shortest float32 form.
func (w *jsonWriter) floats(v []float64) {
	w.b = append(w.b, '[')
	for i, x := range v {
		w.sep(i)
		switch f := float32(x); {
		case math.IsInf(float64(f), 1):
			w.raw("Infinity")
		case math.IsInf(float64(f), -1):
			w.raw("-Infinity")
		default:
			w.b = strconv.AppendFloat(w.b, float64(f), 'E', -1, 32)
		}
	}
	w.b = append(w.b, ']')
}
