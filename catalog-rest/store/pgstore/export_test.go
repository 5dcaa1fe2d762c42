package pgstore

// SchemaVersion is the version Open migrates a database to.
var SchemaVersion = len(migrations)
