package localstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/churnops/churnops/internal/registry"
)

var bucketApprovals = []byte("approvals")

// Approvals is the embedded registry.Approvals: paused runs in
// registry.db, next to the versions they would promote.
type Approvals struct {
	file *boltFile
}

var _ registry.Approvals = (*Approvals)(nil)

// Put stores a paused run under a new token.
func (a *Approvals) Put(ctx context.Context, token string, checkpoint []byte, info registry.ApprovalInfo) error {
	if token == "" {
		return fmt.Errorf("put approval: empty token: %w", registry.ErrInvalid)
	}
	if info.CreatedAt.IsZero() {
		info.CreatedAt = now()
	}
	raw, err := json.Marshal(registry.Approval{Token: token, Checkpoint: checkpoint, Info: info})
	if err != nil {
		return fmt.Errorf("put approval %s: encode: %w", token, err)
	}
	err = a.file.update(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketApprovals)
		if err != nil {
			return err
		}
		if b.Get([]byte(token)) != nil {
			return fmt.Errorf("token already stored: %w", registry.ErrConflict)
		}
		return b.Put([]byte(token), raw)
	})
	if err != nil {
		return fmt.Errorf("put approval %s: %w", token, err)
	}
	return nil
}

// Get returns the paused run under token.
func (a *Approvals) Get(ctx context.Context, token string) (registry.Approval, error) {
	var ap registry.Approval
	err := a.file.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketApprovals)
		if b == nil || token == "" {
			return registry.ErrApprovalNotFound
		}
		raw := b.Get([]byte(token))
		if raw == nil {
			return registry.ErrApprovalNotFound
		}
		return json.Unmarshal(raw, &ap)
	})
	if err != nil {
		return registry.Approval{}, fmt.Errorf("get approval %s: %w", token, err)
	}
	return ap, nil
}

// List returns every paused run, oldest first.
func (a *Approvals) List(ctx context.Context) ([]registry.Approval, error) {
	out, err := readAll[registry.Approval](ctx, a.file, bucketApprovals)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	slices.SortStableFunc(out, func(x, y registry.Approval) int {
		return x.Info.CreatedAt.Compare(y.Info.CreatedAt) // ForEach already ordered tokens
	})
	return out, nil
}

// Delete removes the paused run under token; of concurrent Deletes of one
// token exactly one succeeds (the check and the delete share a transaction).
func (a *Approvals) Delete(ctx context.Context, token string) error {
	err := a.file.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketApprovals)
		if b == nil || token == "" || b.Get([]byte(token)) == nil {
			return registry.ErrApprovalNotFound
		}
		return b.Delete([]byte(token))
	})
	if err != nil {
		return fmt.Errorf("delete approval %s: %w", token, err)
	}
	return nil
}
