/**
 * A typed client for the BudgetSmart REST API.
 *
 * `paths` and `components` are generated from the gateway's `/openapi.json` (`npm run
 * generate`), so every path, parameter, body and answer is checked by the compiler against the
 * API this client was built with. Calls go through openapi-fetch: each returns
 * `{ data, error, response }`, where `error` is the problem+json body of a 4xx or 5xx.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, paths };

/** The client: `GET`, `POST`, `PATCH`, `PUT` and `DELETE` over the API's paths. */
export type BudgetSmartClient = Client<paths>;

/** An RFC 9457 problem, as every error answer carries it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { field: string; message: string }[];
}

export interface ClientOptions {
  /** The gateway's origin, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** The current access token, asked for on every call (so a refreshed token is used at once). */
  accessToken?: () => string | undefined;
  /** A fetch implementation; the platform's by default. */
  fetch?: typeof globalThis.fetch;
}

/** A client for the API at `options.baseUrl`. */
export function createBudgetSmartClient(options: ClientOptions): BudgetSmartClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const bearer: Middleware = {
    onRequest({ request }) {
      const token = options.accessToken?.();
      if (token) {
        request.headers.set("Authorization", `Bearer ${token}`);
      }
      return request;
    },
  };
  client.use(bearer);
  return client;
}

/** The API version this package is built for: the OpenAPI document's `info.version`. */
export const API_VERSION = "0.1.0";
