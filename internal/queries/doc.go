// Package queries serves the read side of the contract ("Queries"): the
// NATS service crm-bridge, built with nats.go's micro package, whose
// endpoints get, find, list and resync answer from the read model
// CRM_CUSTOMERS (internal/model).
//
// get reads the model's entry (or, with fresh, the CRM). find and list use
// an Index that each process builds from a watch of CRM_CUSTOMERS (every
// current record, then each change) and that holds ids and hashes only;
// the records themselves are read from the model. The model's status
// (filled, asOf) is followed by a second watch, so a query costs no extra
// read for it.
//
// Every bridge process serves the service in one queue group, so NATS
// spreads the requests over the processes. The same Index answers the
// command processor's question after a create whose answer was lost
// (Service.ByPhone).
package queries
