// Package collector is the HTTP endpoint storefronts post clickstream
// events to. A request is acknowledged only once its events are on local
// disk: appended to a write-ahead spool and fsynced, with concurrent
// requests sharing each fsync. A flusher turns sealed spool segments into
// Iceberg commits through ingest.Sink.Land; malformed events go to the
// table's quarantine table with their reason and position.
//
// Endpoints:
//
//	POST /v1/events                  events for the configured table
//	POST /v1/events/{zone}/{table}   the same, naming the table
//	GET  /healthz                    readiness and spool state
//
// Bodies are a JSON object, a JSON array of objects, or NDJSON
// (Content-Type application/json or application/x-ndjson). The answer is
// 202 with the request id and how many events were accepted and
// quarantined; 4xx and 503 (429 and 503 with Retry-After) refuse a
// request as a whole, and nothing of a refused request lands. A client that
// gives up before the answer cannot know: its events land once or not at
// all, so it should resend them with the ids it gave them.
//
// # Exactly once
//
// Each acknowledged request is one spool record: its accepted events and
// its rejects, checked against the table's columns before the answer. The
// writer appends records to the active segment and fsyncs before anyone is
// answered. Sealing renames a segment to a name carrying its size, so the
// byte range it stands for is fixed on disk before it is flushed; segment
// names never repeat. A sealed segment lands under the batch id
// collector/<segment>/0-<size>, data and quarantine rows in one catalog
// transaction, and is deleted only after that commit. Where a process dies:
//
//   - before the fsync of a record: the request was not acknowledged; a
//     torn last record fails its checksum and is cut off at the next start,
//     intact records of it land once (at most once is all that was promised);
//   - after the fsync, before or during the answer: the record lands once,
//     the client saw no acknowledgement;
//   - while sealing: the next start seals the former active segment at its
//     last intact record and removes empty ones;
//   - while landing (data files written, commit not sent, or sent and
//     maybe applied): the next start lands the segment again; the batch id
//     in the table's history, checked before and at commit time, makes the
//     second landing a no-op if the first one went through;
//   - after the commit, before the segment is deleted: the replay finds the
//     batch and only deletes the segment.
//
// The spool directory is locked (flock), so two processes never write or
// flush the same segments.
package collector
