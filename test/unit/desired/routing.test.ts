import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildDesiredModel, type DesiredService } from "../../../src/desired/model.ts";
import { routingLabels, type RoutingContext } from "../../../src/desired/routing.ts";
import { loadManifests } from "../../../src/manifests/load.ts";
import type { ServiceSpec } from "../../../src/manifests/types.ts";
import { createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

type Routing = NonNullable<ServiceSpec["routing"]>;

const context = (overrides: Partial<RoutingContext> = {}): RoutingContext => ({
  project: "shop",
  environment: "dev",
  service: "web",
  network: "shop-dev",
  domain: "lvh.me",
  tls: false,
  ...overrides,
});

const routing = (overrides: Partial<Routing> = {}): Routing => ({ path: "/", port: 8080, ...overrides });

/** The labels of router `shop-dev-web` for a rule, without TLS. */
const labelsFor = (rule: string, port = "8080") => ({
  "traefik.enable": "true",
  "traefik.docker.network": "shop-dev",
  "traefik.http.routers.shop-dev-web.rule": rule,
  "traefik.http.routers.shop-dev-web.service": "shop-dev-web",
  "traefik.http.services.shop-dev-web.loadbalancer.server.port": port,
});

describe("routingLabels", () => {
  it("gives no labels to a service without routing", () => {
    expect(routingLabels(undefined, context())).toEqual({});
  });

  it("gives no labels when there is neither a host nor a domain", () => {
    expect(routingLabels(routing(), context({ domain: undefined }))).toEqual({});
    expect(routingLabels(routing(), context({ domain: undefined, tls: true }))).toEqual({});
  });

  it("routes Host(`<service>.<domain>`) through router <project>-<environment>-<service>", () => {
    expect(routingLabels(routing(), context())).toEqual(labelsFor("Host(`web.lvh.me`)"));
  });

  it("uses routing.host over the domain", () => {
    expect(routingLabels(routing({ host: "shop.example.com" }), context())).toEqual(labelsFor("Host(`shop.example.com`)"));
  });

  it("uses routing.host when there is no domain at all", () => {
    expect(routingLabels(routing({ host: "shop.example.com" }), context({ domain: undefined }))).toEqual(labelsFor("Host(`shop.example.com`)"));
  });

  it.each([
    { path: "/", rule: "Host(`web.lvh.me`)" },
    { path: "/api", rule: "Host(`web.lvh.me`) && PathPrefix(`/api`)" },
    { path: "/api/v1/", rule: "Host(`web.lvh.me`) && PathPrefix(`/api/v1/`)" },
  ])("path $path -> rule $rule", ({ path, rule }) => {
    expect(routingLabels(routing({ path }), context())["traefik.http.routers.shop-dev-web.rule"]).toBe(rule);
  });

  it("adds no PathPrefix when the path is missing", () => {
    // The schema defaults path to "/", but the type allows a caller to leave it empty.
    expect(routingLabels({ port: 80 } as Routing, context())["traefik.http.routers.shop-dev-web.rule"]).toBe("Host(`web.lvh.me`)");
  });

  it("adds the router's tls label only when TLS is on", () => {
    expect(routingLabels(routing(), context({ tls: true }))).toEqual({ ...labelsFor("Host(`web.lvh.me`)"), "traefik.http.routers.shop-dev-web.tls": "true" });
    const plain = routingLabels(routing(), context({ tls: false }));
    expect(Object.keys(plain).filter((k) => k.endsWith(".tls"))).toEqual([]);
  });

  it("forwards to routing.port", () => {
    expect(routingLabels(routing({ port: 3000 }), context())["traefik.http.services.shop-dev-web.loadbalancer.server.port"]).toBe("3000");
  });

  it("reaches the container on the context's network", () => {
    expect(routingLabels(routing(), context({ network: "shop-dev-edge" }))["traefik.docker.network"]).toBe("shop-dev-edge");
  });

  it.each([
    { project: "my_shop", environment: "dev", service: "web", router: "my-shop-dev-web" },
    { project: "shop", environment: "eu.prod", service: "web", router: "shop-eu-prod-web" },
    { project: "shop", environment: "dev", service: "web@2 x", router: "shop-dev-web-2-x" },
    { project: "Shop", environment: "Dev", service: "Web-1", router: "Shop-Dev-Web-1" },
  ])("names router $router for $project/$environment/$service, keeping only [A-Za-z0-9-]", ({ project, environment, service, router }) => {
    const labels = routingLabels(routing({ host: "x.example.com" }), context({ project, environment, service }));
    expect(Object.keys(labels).sort()).toEqual(
      [
        "traefik.enable",
        "traefik.docker.network",
        `traefik.http.routers.${router}.rule`,
        `traefik.http.routers.${router}.service`,
        `traefik.http.services.${router}.loadbalancer.server.port`,
      ].sort(),
    );
    expect(labels[`traefik.http.routers.${router}.service`]).toBe(router);
    for (const key of Object.keys(labels)) expect(key).toMatch(/^traefik\.[A-Za-z0-9.-]+$/);
  });
});

// ---------------------------------------------------------------------------
// Through the model: where the domain and TLS come from, and where the labels land.
// ---------------------------------------------------------------------------

type Spec = Record<string, unknown>;
const manifest = (kind: string, name: string, spec: Spec) => doc(kind, name, stringify(spec).trimEnd());

const dirs: ManifestDir[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.cleanup();
});

/** Service `web` (and `db`, without routing) of Project shop in Environment dev, on target local. */
async function modelOf({ target = {}, environment = {}, web = {} }: { target?: Spec; environment?: Spec; web?: Spec }) {
  const dir = createManifestDir({
    "base.yaml": [
      manifest("DeploymentTarget", "local", { type: "local", ...target }),
      manifest("Project", "shop", { description: "test shop", labels: { team: "payments" } }),
      manifest("Environment", "dev", { project: "shop", target: "local", ...environment }),
    ].join("---\n"),
    "web.yaml": manifest("Service", "web", { project: "shop", image: "web:1", routing: { port: 8080 }, ...web }),
    "db.yaml": manifest("Service", "db", { project: "shop", image: "db:1" }),
  });
  dirs.push(dir);
  const state = await loadManifests(dir.dir);
  expect(state.errors.map((e) => e.message)).toEqual([]);
  const model = buildDesiredModel(state, { daemonEnv: {} });
  const service = (name: string): DesiredService => {
    const found = model.services.get(`Service/dev/${name}`)!;
    expect(found.error).toBeUndefined();
    return found;
  };
  return { web: service("web"), db: service("db") };
}

const traefikLabels = (labels: Record<string, string> | undefined) => Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => k.startsWith("traefik.")));
const RULE = "traefik.http.routers.shop-dev-web.rule";
const TLS = "traefik.http.routers.shop-dev-web.tls";

describe("routing in the desired model", () => {
  it("puts the labels on the service's container template, beside its other labels", async () => {
    const { web, db } = await modelOf({ target: { domain: "lvh.me" }, web: { labels: { tier: "frontend" } } });
    expect(web.template.Labels).toEqual({
      team: "payments",
      tier: "frontend",
      ...labelsFor("Host(`web.lvh.me`)"),
      "dev.berth.managed": "true",
      "dev.berth.target": "local",
      "dev.berth.project": "shop",
      "dev.berth.environment": "dev",
      "dev.berth.service": "web",
    });
    // A service without routing gets none.
    expect(traefikLabels(db.template.Labels)).toEqual({});
  });

  it("uses the target's domain when the Environment has none", async () => {
    const { web } = await modelOf({ target: { domain: "lvh.me" } });
    expect(web.template.Labels?.[RULE]).toBe("Host(`web.lvh.me`)");
  });

  it("uses the Environment's domain over the target's", async () => {
    const { web } = await modelOf({ target: { domain: "lvh.me" }, environment: { domain: "dev.example.com" } });
    expect(web.template.Labels?.[RULE]).toBe("Host(`web.dev.example.com`)");
  });

  it("uses the Environment's domain when the target has none", async () => {
    const { web } = await modelOf({ environment: { domain: "dev.example.com" } });
    expect(web.template.Labels?.[RULE]).toBe("Host(`web.dev.example.com`)");
  });

  it("routes nothing when neither the Environment nor the target has a domain and routing has no host", async () => {
    const { web } = await modelOf({});
    expect(traefikLabels(web.template.Labels)).toEqual({});
  });

  it("uses routing.host over every domain, with the path", async () => {
    const { web } = await modelOf({ target: { domain: "lvh.me" }, environment: { domain: "dev.example.com" }, web: { routing: { port: 8080, host: "shop.example.com", path: "/api" } } });
    expect(web.template.Labels?.[RULE]).toBe("Host(`shop.example.com`) && PathPrefix(`/api`)");
  });

  it("serves TLS when the target says tls: true, and not otherwise", async () => {
    const secure = await modelOf({ target: { domain: "example.com", tls: true } });
    expect(secure.web.template.Labels?.[TLS]).toBe("true");
    const plain = await modelOf({ target: { domain: "example.com" } });
    expect(plain.web.template.Labels).not.toHaveProperty(TLS);
  });

  it("changes the spec hash when the domain changes, so routed containers are recreated", async () => {
    const [a, b] = [await modelOf({ target: { domain: "lvh.me" } }), await modelOf({ target: { domain: "example.com" } })];
    expect(a.web.specHash).not.toBe(b.web.specHash);
    expect(a.db.specHash).toBe(b.db.specHash);
  });
});
