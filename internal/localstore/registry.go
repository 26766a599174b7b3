package localstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/churnops/churnops/internal/registry"
)

// Bucket layout of registry.db:
//
//	models/<model name>/production  -> 8-byte big-endian version (absent: none)
//	models/<model name>/versions/   -> 8-byte big-endian version -> Version JSON;
//	                                   the bucket's sequence numbers versions
//	approvals/<token>               -> Approval JSON
var (
	bucketModels   = []byte("models")
	bucketVersions = []byte("versions")
	keyProduction  = []byte("production")
)

// Registry is the embedded registry.Registry: model versions in
// registry.db. Every mutation is one bbolt transaction, so a promotion
// archives the old Production and promotes the candidate together or not at
// all, and version numbers come from a per-model sequence that commits with
// the version it numbers (no gaps, no duplicates).
type Registry struct {
	file *boltFile
}

var _ registry.Registry = (*Registry)(nil)

// versionKey encodes a version number so that byte order is numeric order.
func versionKey(n int) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(n))
}

// modelBucket returns the model's bucket, or nil if it has no versions.
func modelBucket(tx *bbolt.Tx, model string) *bbolt.Bucket {
	models := tx.Bucket(bucketModels)
	if models == nil || model == "" {
		return nil
	}
	return models.Bucket([]byte(model))
}

func readVersion(m *bbolt.Bucket, version int) (registry.Version, error) {
	var v registry.Version
	if m == nil || version <= 0 {
		return v, registry.ErrNotFound
	}
	raw := m.Bucket(bucketVersions).Get(versionKey(version))
	if raw == nil {
		return v, registry.ErrNotFound
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("decode v%d: %w", version, err)
	}
	return v, nil
}

func writeVersion(m *bbolt.Bucket, v registry.Version) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode v%d: %w", v.Version, err)
	}
	return m.Bucket(bucketVersions).Put(versionKey(v.Version), raw)
}

// productionVersion returns the Production version number, 0 if none.
func productionVersion(m *bbolt.Bucket) int {
	if m == nil {
		return 0
	}
	raw := m.Get(keyProduction)
	if len(raw) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(raw))
}

// Register stores v as the model's next version, in stage None.
func (r *Registry) Register(ctx context.Context, v registry.Version) (registry.Version, error) {
	if v.Model == "" {
		return registry.Version{}, fmt.Errorf("register: empty model name: %w", registry.ErrInvalid)
	}
	err := r.file.update(ctx, func(tx *bbolt.Tx) error {
		models, err := tx.CreateBucketIfNotExists(bucketModels)
		if err != nil {
			return err
		}
		m, err := models.CreateBucketIfNotExists([]byte(v.Model))
		if err != nil {
			return err
		}
		versions, err := m.CreateBucketIfNotExists(bucketVersions)
		if err != nil {
			return err
		}
		n, err := versions.NextSequence()
		if err != nil {
			return err
		}
		t := now()
		v.Version, v.Stage, v.CreatedAt, v.UpdatedAt = int(n), registry.StageNone, t, t
		if v.ArtifactKey == "" {
			v.ArtifactKey = registry.ArtifactKey(v.Model, v.Version)
		}
		return writeVersion(m, v)
	})
	if err != nil {
		return registry.Version{}, fmt.Errorf("register %s: %w", v.Model, err)
	}
	return v, nil
}

// Models lists the names of the models with versions, sorted: what
// `churnops check` walks.
func (r *Registry) Models(ctx context.Context) ([]string, error) {
	var out []string
	err := r.file.view(ctx, func(tx *bbolt.Tx) error {
		models := tx.Bucket(bucketModels)
		if models == nil {
			return nil
		}
		return models.ForEach(func(k, v []byte) error {
			if v == nil { // a bucket: a model
				out = append(out, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return out, nil
}

// Get returns one version, or registry.ErrNotFound.
func (r *Registry) Get(ctx context.Context, model string, version int) (registry.Version, error) {
	var v registry.Version
	err := r.file.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		v, err = readVersion(modelBucket(tx, model), version)
		return err
	})
	if err != nil {
		return registry.Version{}, fmt.Errorf("get %s v%d: %w", model, version, err)
	}
	return v, nil
}

// List returns the model's versions, oldest first.
func (r *Registry) List(ctx context.Context, model string) ([]registry.Version, error) {
	var vs []registry.Version
	err := r.file.view(ctx, func(tx *bbolt.Tx) error {
		m := modelBucket(tx, model)
		if m == nil {
			return nil
		}
		return m.Bucket(bucketVersions).ForEach(func(k, raw []byte) error {
			var v registry.Version
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode v%d: %w", binary.BigEndian.Uint64(k), err)
			}
			vs = append(vs, v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", model, err)
	}
	return vs, nil
}

// Production returns the model's Production version, or
// registry.ErrNoProduction.
func (r *Registry) Production(ctx context.Context, model string) (registry.Version, error) {
	var v registry.Version
	err := r.file.view(ctx, func(tx *bbolt.Tx) error {
		m := modelBucket(tx, model)
		n := productionVersion(m)
		if n == 0 {
			return registry.ErrNoProduction
		}
		var err error
		if v, err = readVersion(m, n); err != nil {
			return fmt.Errorf("production pointer v%d: %w", n, err)
		}
		if v.Stage != registry.StageProduction {
			return fmt.Errorf("production pointer v%d is in stage %s: corrupt registry", n, v.Stage)
		}
		return nil
	})
	if err != nil {
		return registry.Version{}, fmt.Errorf("production %s: %w", model, err)
	}
	return v, nil
}

// Promote makes version Production and archives the previous Production in
// one transaction, if the Production version is still expectedProduction.
func (r *Registry) Promote(ctx context.Context, model string, version, expectedProduction int, d registry.Decision) error {
	err := r.file.update(ctx, func(tx *bbolt.Tx) error {
		m := modelBucket(tx, model)
		cand, err := readVersion(m, version)
		if err != nil {
			return err
		}
		cur := productionVersion(m)
		if cur != expectedProduction {
			return fmt.Errorf("Production is v%d, not the expected v%d: %w", cur, expectedProduction, registry.ErrConflict)
		}
		if cand.Stage != registry.StageNone && cand.Stage != registry.StageArchived {
			return fmt.Errorf("version is %s, not None or Archived: %w", cand.Stage, registry.ErrConflict)
		}
		t := now()
		if cur != 0 {
			old, err := readVersion(m, cur)
			if err != nil {
				return fmt.Errorf("production pointer v%d: %w", cur, err)
			}
			old.Stage, old.UpdatedAt = registry.StageArchived, t
			if err := writeVersion(m, old); err != nil {
				return err
			}
		}
		cand.Stage, cand.Decision, cand.UpdatedAt = registry.StageProduction, &d, t
		if err := writeVersion(m, cand); err != nil {
			return err
		}
		return m.Put(keyProduction, versionKey(version))
	})
	if err != nil {
		return fmt.Errorf("promote %s v%d: %w", model, version, err)
	}
	return nil
}

// Decide records d on a version in stage None and moves it to stage (None
// or Rejected).
func (r *Registry) Decide(ctx context.Context, model string, version int, stage registry.Stage, d registry.Decision) error {
	if stage != registry.StageNone && stage != registry.StageRejected {
		return fmt.Errorf("decide %s v%d: stage %q is not None or Rejected: %w", model, version, stage, registry.ErrInvalid)
	}
	err := r.file.update(ctx, func(tx *bbolt.Tx) error {
		m := modelBucket(tx, model)
		v, err := readVersion(m, version)
		if err != nil {
			return err
		}
		if v.Stage != registry.StageNone {
			return fmt.Errorf("version is %s, not None: %w", v.Stage, registry.ErrConflict)
		}
		v.Stage, v.Decision, v.UpdatedAt = stage, &d, now()
		return writeVersion(m, v)
	})
	if err != nil {
		return fmt.Errorf("decide %s v%d: %w", model, version, err)
	}
	return nil
}
