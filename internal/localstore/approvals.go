package localstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

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
	if err := a.Replace(ctx, nil, token, checkpoint, info); err != nil {
		return fmt.Errorf("put approval: %w", err)
	}
	return nil
}

// Replace stores a paused run under token and deletes olds, in one
// transaction.
func (a *Approvals) Replace(ctx context.Context, olds []string, token string, checkpoint []byte, info registry.ApprovalInfo) error {
	if token == "" {
		return fmt.Errorf("replace approval: empty token: %w", registry.ErrInvalid)
	}
	if info.CreatedAt.IsZero() {
		info.CreatedAt = now()
	}
	raw, err := json.Marshal(registry.Approval{Token: token, Checkpoint: checkpoint, Info: info})
	if err != nil {
		return fmt.Errorf("approval %s: encode: %w", token, err)
	}
	err = a.file.update(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketApprovals)
		if err != nil {
			return err
		}
		if b.Get([]byte(token)) != nil {
			return fmt.Errorf("token already stored: %w", registry.ErrConflict)
		}
		for _, old := range olds {
			if old != token {
				if err := b.Delete([]byte(old)); err != nil {
					return err
				}
			}
		}
		return b.Put([]byte(token), raw)
	})
	if err != nil {
		return fmt.Errorf("approval %s: %w", token, err)
	}
	return nil
}

// Claim marks the run under token as answered by owner, in one
// transaction with the check of the current claim.
func (a *Approvals) Claim(ctx context.Context, token, owner string, stale func(registry.ApprovalClaim) bool) (registry.Approval, error) {
	var ap registry.Approval
	err := a.modify(ctx, token, func(cur *registry.Approval) error {
		if c := cur.Claim; c != nil && c.Owner != owner && (stale == nil || !stale(*c)) {
			return fmt.Errorf("being answered by %s since %s: %w", c.Owner, c.At.Format(time.RFC3339), registry.ErrConflict)
		}
		cur.Claim = &registry.ApprovalClaim{Owner: owner, At: now()}
		ap = *cur
		return nil
	})
	if err != nil {
		return registry.Approval{}, fmt.Errorf("claim approval %s: %w", token, err)
	}
	return ap, nil
}

// Release clears owner's claim on token.
func (a *Approvals) Release(ctx context.Context, token, owner string) error {
	err := a.modify(ctx, token, func(cur *registry.Approval) error {
		if cur.Claim != nil && cur.Claim.Owner == owner {
			cur.Claim = nil
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release approval %s: %w", token, err)
	}
	return nil
}

// modify reads the approval under token, lets fn change it and writes it
// back, in one transaction.
func (a *Approvals) modify(ctx context.Context, token string, fn func(*registry.Approval) error) error {
	return a.file.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketApprovals)
		if b == nil || token == "" {
			return registry.ErrApprovalNotFound
		}
		raw := b.Get([]byte(token))
		if raw == nil {
			return registry.ErrApprovalNotFound
		}
		var ap registry.Approval
		if err := json.Unmarshal(raw, &ap); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if err := fn(&ap); err != nil {
			return err
		}
		raw, err := json.Marshal(ap)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		return b.Put([]byte(token), raw)
	})
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
