/**
 * The client's example, run against a running system by CI (scripts/test/client-example.sh):
 * register and log in, create this month's budget and a transaction, read the month-end
 * forecast. Any answer that is not what the API promises ends it with a non-zero exit.
 */
import { randomUUID } from "node:crypto";

import { API_VERSION, createBudgetSmartClient, type Problem } from "../src/index.js";

const baseUrl = process.env.GATEWAY_URL ?? "http://127.0.0.1:8080";

/** The value of a call, or the end of the example with the problem the API answered. */
function expect<T>(what: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    const problem = result.error as Problem | undefined;
    throw new Error(`${what}: ${result.response.status} ${problem?.title ?? ""} ${problem?.detail ?? ""}`.trim());
  }
  return result.data;
}

async function main(): Promise<void> {
  // The package is versioned with the API: refuse to run against another version.
  const document = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { info: { version: string } };
  if (document.info.version !== API_VERSION) {
    throw new Error(`this client is for API ${API_VERSION}; the gateway serves ${document.info.version}`);
  }

  let accessToken: string | undefined;
  const api = createBudgetSmartClient({ baseUrl, accessToken: () => accessToken });

  const email = `client-example-${randomUUID()}@budgetsmart.localhost`;
  const password = `example-${randomUUID()}`;
  expect("register", await api.POST("/api/v1/auth/register", { body: { email, password, name: "Client Example" } }));
  const session = expect("log in", await api.POST("/api/v1/auth/login", { body: { email, password } }));
  // An account with two-factor sign-in answers a challenge instead, answered at POST /api/v1/auth/mfa.
  if ("mfa_required" in session) {
    throw new Error("log in: this account asks for a second factor");
  }
  accessToken = session.access_token;

  const today = new Date().toISOString().slice(0, 10);
  const month = today.slice(0, 7);
  const budget = expect(
    "create the budget",
    await api.POST("/api/v1/budgets", { body: { month, currency: "USD", total_limit: "400.00" } }),
  );
  const transaction = expect(
    "create a transaction",
    await api.POST("/api/v1/transactions", {
      body: { occurred_on: today, description: "Corner Grocer", amount: "42.50", currency: "USD", type: "debit" },
    }),
  );
  const forecast = expect(
    "read the forecast",
    await api.GET("/api/v1/analytics/forecast", { params: { query: { budget_id: budget.id } } }),
  );

  console.log(`budget ${budget.id}: ${budget.total_limit} ${budget.currency} for ${budget.month}`);
  console.log(`transaction ${transaction.id}: ${transaction.amount} ${transaction.currency} at ${transaction.description}`);
  // A new account has no history yet: "insufficient_data", with a sentence saying what is missing.
  console.log(`forecast (${forecast.status}): ${forecast.explanation}`);
}

main().catch((error: unknown) => {
  console.error(`client example failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
