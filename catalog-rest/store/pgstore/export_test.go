package pgstore

// SchemaVersion is the version Open migrates a database to.
var SchemaVersion = len(migrations)

// GrantHeld reports whether the store may answer loads from memory now.
func (s *Store) GrantHeld() bool { return s.grant.current() != 0 }

// LoadsFromMemory counts the loads answered without a query.
func (s *Store) LoadsFromMemory() int64 { return s.loads.fromMemory.Load() }

// FreezeGrant stops renewing the grant and hearing release requests, as
// a replica cut off from the database would.
func (s *Store) FreezeGrant() { s.grant.frozen.Store(true) }
