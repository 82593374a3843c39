// The Kubernetes client factory (connections reused, writes paced, calls cancellable) and the
// classification of apiserver errors.
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  EventsV1Api,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  PolicyV1Api,
  RequestContext,
  SchedulingV1Api,
} from "@kubernetes/client-node";
import { RetryableError, PermanentError, toError } from "./errors.ts";
import { TokenBucket } from "./rateLimit.ts";

export interface Kube {
  config: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  discovery: DiscoveryV1Api;
  coordination: CoordinationV1Api;
  events: EventsV1Api;
  scheduling: SchedulingV1Api;
  policy: PolicyV1Api;
  /** Paces writes to the apiserver (qps/burst), like client-go's rate limiter; lanes in `WriteLane`. */
  limiter: TokenBucket;
}

/**
 * The order of the watcher's writes when the write budget is short: the flips that start moves off a doomed
 * node first, then their drain guards, then everything else (verdicts, moves back, guard deletions), then
 * Events.
 */
export const WriteLane = { flip: 0, guard: 1, routine: 2, event: 3 } as const;
export type WriteLane = (typeof WriteLane)[keyof typeof WriteLane];

export interface KubeOptions {
  /** Path of a kubeconfig; otherwise KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfig?: string | undefined;
  qps?: number;
  burst?: number;
}

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/**
 * client-node 2.0 gives every request a new undici Agent, so every API call opens a new TLS connection.
 * This one keeps the first Agent and reuses it, so calls share kept-alive connections as client-go's
 * transport does; credentials are still applied to every request.
 */
class PooledKubeConfig extends KubeConfig {
  private dispatcher: Dispatcher | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (fresh === undefined) return;
    this.dispatcher ??= fresh;
    context.setDispatcher(this.dispatcher);
  }
}

/**
 * Applies every request to `signal` on top of `base`'s credentials and connections: once the signal is
 * aborted, requests under way are cancelled and new ones fail before anything is sent.
 */
class CancellableKubeConfig extends KubeConfig {
  private readonly base: KubeConfig;
  private readonly signal: AbortSignal;

  constructor(base: KubeConfig, signal: AbortSignal) {
    super();
    this.base = base;
    this.signal = signal;
    this.loadFromOptions({
      clusters: base.clusters,
      users: base.users,
      contexts: base.contexts,
      currentContext: base.currentContext,
    });
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    this.signal.throwIfAborted();
    await this.base.applySecurityAuthentication(context);
    context.setSignal(this.signal);
  }
}

function loadKubeConfig(kubeconfig?: string): KubeConfig {
  const config = new PooledKubeConfig();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else config.loadFromDefault();
  return config;
}

function clientsOf(config: KubeConfig, limiter: TokenBucket): Kube {
  return {
    config,
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    discovery: config.makeApiClient(DiscoveryV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    events: config.makeApiClient(EventsV1Api),
    scheduling: config.makeApiClient(SchedulingV1Api),
    policy: config.makeApiClient(PolicyV1Api),
    limiter,
  };
}

export function createKube(options: KubeOptions = {}): Kube {
  return clientsOf(
    loadKubeConfig(options.kubeconfig),
    new TokenBucket(options.qps ?? 200, options.burst ?? 300),
  );
}

/**
 * The same clients bound to `signal`: when it is aborted (leadership lost), every call under way is
 * cancelled and every later one is refused, so nothing started under it can still write.
 */
export function withSignal(kube: Kube, signal: AbortSignal): Kube {
  return clientsOf(cancellable(kube.config, signal), kube.limiter);
}

/** `config`'s credentials and connections, every request applied to `signal` (see withSignal). */
export function cancellable(config: KubeConfig, signal: AbortSignal): KubeConfig {
  return new CancellableKubeConfig(config, signal);
}

/** A page of a list as the apiserver sends it. */
interface ListPage {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: unknown[];
}

const transport = new IsomorphicFetchHttpLibrary();

/**
 * Lists a collection page by page as plain JSON, handing each item to `each`: no client-node model classes
 * are built (a fraction of their CPU and memory for tens of thousands of objects) and at most one page is
 * held at a time. Resolves with the list's resourceVersion (every page comes from the same snapshot).
 */
export async function listPaged(
  config: KubeConfig,
  path: string,
  query: Record<string, string>,
  each: (item: unknown) => void,
  pageSize = 500,
): Promise<string> {
  const server = config.getCurrentCluster()?.server;
  if (!server) throw new Error("the kubeconfig names no current cluster");
  let resourceVersion = "";
  let next: string | undefined;
  do {
    const url = new URL(server + path);
    const params = { ...query, limit: `${pageSize}`, ...(next ? { continue: next } : {}) };
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    const context = new RequestContext(url.toString(), HttpMethod.GET);
    context.setHeaderParam("Accept", "application/json");
    await config.applySecurityAuthentication(context);
    const response = await transport.send(context).toPromise();
    const text = await response.body.text();
    if (response.httpStatusCode !== 200) {
      throw new ApiException(response.httpStatusCode, `list ${path}`, text, response.headers);
    }
    const page = JSON.parse(text) as ListPage;
    for (const item of page.items ?? []) each(item);
    resourceVersion ||= page.metadata?.resourceVersion ?? "";
    next = page.metadata?.continue || undefined;
  } while (next !== undefined);
  return resourceVersion;
}

/** HTTP status of a client-node error, or of an error classified from one, when the apiserver answered. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (err instanceof RetryableError || err instanceof PermanentError) return err.status;
  return undefined;
}

/**
 * Sorts an apiserver failure into the two kinds the event loop acts on: a 404 or 422 will not get better
 * by retrying; anything else (unreachable, 409 conflict, 429, 5xx, 403 while RBAC propagates) may.
 */
export function classify(err: unknown, what: string): RetryableError | PermanentError {
  const status = statusOf(err);
  const cause = toError(err);
  const detail = status !== undefined ? `HTTP ${status}` : cause.message;
  if (status === 404 || status === 422 || status === 400) {
    const kind = status === 404 ? "not-found" : "invalid";
    return new PermanentError(kind, `${what}: ${detail}`, { cause, status });
  }
  return new RetryableError(`${what}: ${detail}`, { cause, status });
}
