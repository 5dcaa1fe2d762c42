package sqlitestore

// Migrations are the schema migrations Open applies, in order.
var Migrations = migrations
