// PostGraphile 4 over Ledgerline's database: the reference bench/readpath.py measures
// Ledgerline's read path against. Started by bench/readpath_servers.py; not part of Ledgerline.
//
// Run as a library rather than with `npx postgraphile` so every request runs as Ledgerline's
// do: in a transaction whose role is ledgerline_app (row-level security applies) with
// app.tenant_id set to the benchmark's tenant. No JWT is verified: one tenant, one role.
//
// The connection comes from libpq's variables (PGHOST, PGPORT, PGUSER, PGDATABASE,
// PGPASSWORD), which node-postgres reads too; BENCH_TENANT names the tenant, PORT the port.

"use strict";

const http = require("http");
const { postgraphile } = require("postgraphile");

const tenant = process.env.BENCH_TENANT;
const port = Number(process.env.PORT);
if (!tenant || !port) {
  throw new Error("set BENCH_TENANT and PORT");
}

// As many connections as Ledgerline's default pool (DATABASE_POOL_SIZE); node-postgres
// takes the rest of the connection from the environment.
const middleware = postgraphile({ max: 10 }, "public", {
  pgSettings: { role: "ledgerline_app", "app.tenant_id": tenant },
  disableDefaultMutations: true,
  disableQueryLog: true,
  dynamicJson: true,
  watchPg: false,
  graphiql: false,
  enableQueryBatching: false,
  legacyRelations: "omit",
  retryOnInitFail: false,
  extendedErrors: [],
});

http.createServer(middleware).listen(port, "127.0.0.1");
