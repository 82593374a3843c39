import type { V1Deployment } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { allocate, describeUse, fargateDemand, fargateUse } from "./budget.ts";

/** `replicas` pods of 0.25 vCPU on Fargate (100m, 64Mi requested), unless `cpu` says otherwise. */
function app(
  name: string,
  options: {
    replicas?: number;
    cpu?: string;
    priority?: string;
    priorityClassName?: string;
    compute?: string;
  } = {},
): V1Deployment {
  return {
    metadata: {
      name,
      namespace: "shop",
      annotations: {
        [Annotation.enabled]: "true",
        ...(options.priority === undefined ? {} : { [Annotation.priority]: options.priority }),
        ...(options.compute === undefined ? {} : { [Annotation.compute]: options.compute }),
      },
    },
    spec: {
      replicas: options.replicas ?? 1,
      selector: {},
      template: {
        spec: {
          ...(options.priorityClassName ? { priorityClassName: options.priorityClassName } : {}),
          containers: [
            { name: "app", resources: { requests: { cpu: options.cpu ?? "100m", memory: "64Mi" } } },
          ],
        },
      },
    },
  };
}

const classes: Record<string, number> = { critical: 1000, low: 10 };
const classPriority = (name: string | undefined) => (name === undefined ? 0 : (classes[name] ?? 0));
const names = (ds: V1Deployment[]) => ds.map((d) => d.metadata!.name);

describe("fargateDemand and fargateUse", () => {
  it("count replicas × the Fargate size of one pod", () => {
    expect(fargateDemand(app("a", { replicas: 3, cpu: "1" }))).toEqual({ vcpu: 3, pods: 3 });
    expect(fargateDemand(app("a", { replicas: 0 }))).toEqual({ vcpu: 0, pods: 0 });
    expect(fargateDemand(app("a", { cpu: "17" }))).toBeUndefined();
  });

  it("count only what asks for Fargate", () => {
    const deployments = [
      app("a", { compute: "fargate", replicas: 2 }),
      app("b", { compute: "fargate", cpu: "2" }),
      app("c", { compute: "on-demand", cpu: "4" }),
      app("d"),
    ];
    expect(fargateUse(deployments)).toEqual({ vcpu: 2.5, pods: 3 });
  });

  it("count a recovery from Fargate until its verdict: its Fargate pods stay until spot's are Ready", () => {
    const recovering = (from: string, rollout: string) => {
      const d = app("r", { compute: "spot", replicas: 2 });
      Object.assign(d.metadata!.annotations!, {
        [Annotation.recoveringFrom]: from,
        [Annotation.rollout]: rollout,
      });
      return d;
    };
    expect(fargateUse([recovering("fargate", "progressing")])).toEqual({ vcpu: 0.5, pods: 2 });
    expect(fargateUse([recovering("on-demand", "progressing")])).toEqual({ vcpu: 0, pods: 0 });
    expect(fargateUse([recovering("fargate", "healthy")])).toEqual({ vcpu: 0, pods: 0 });
  });
});

describe("allocate", () => {
  it("offers the budget by priority annotation, then PriorityClass, then namespace/name", () => {
    const candidates = [
      app("alpha"),
      app("bravo", { priorityClassName: "low" }),
      app("charlie", { priorityClassName: "critical" }),
      app("delta", { priority: "5" }),
      app("echo", { priority: "-1", priorityClassName: "critical" }),
      app("foxtrot", { priority: "10" }),
    ];
    const { fits, over, after } = allocate(
      candidates,
      { vcpu: 0, pods: 0 },
      { vcpu: 1, pods: 0 },
      classPriority,
    );
    expect(names(fits)).toEqual(["foxtrot", "delta", "charlie", "bravo"]);
    expect([...over.keys()]).toEqual(["shop/alpha", "shop/echo"]);
    expect(over.get("shop/alpha")).toBe(
      "over the Fargate budget: needs 0.25 vCPU, 0 of 1 left (fargate.max_vcpu)",
    );
    expect(after).toEqual({ vcpu: 1, pods: 4 });
  });

  it("counts what is on Fargate already, and lets a smaller one use what a larger one could not", () => {
    const candidates = [app("big", { priority: "9", cpu: "2" }), app("small", { priority: "1" })];
    const { fits, over } = allocate(candidates, { vcpu: 3, pods: 7 }, { vcpu: 4, pods: 8 }, classPriority);
    expect(names(fits)).toEqual(["small"]);
    expect(over.get("shop/big")).toBe(
      "over the Fargate budget: needs 2 vCPU, 1 of 4 left (fargate.max_vcpu)",
    );
  });

  it("holds the pod budget too, naming both limits when both are short", () => {
    const { fits, over } = allocate(
      [app("a", { replicas: 3 }), app("b", { replicas: 2, cpu: "1" })],
      { vcpu: 0, pods: 0 },
      { vcpu: 2, pods: 4 },
      classPriority,
    );
    expect(names(fits)).toEqual(["a"]);
    expect(over.get("shop/b")).toBe(
      "over the Fargate budget: needs 2 vCPU, 1.25 of 2 left (fargate.max_vcpu); needs 2 pods, 1 of 4 left (fargate.max_pods)",
    );
  });

  it("fits everything with no limit, and a Deployment of no replicas always", () => {
    const { fits, over } = allocate(
      [app("a", { replicas: 50, cpu: "4" }), app("z", { replicas: 0 })],
      { vcpu: 100, pods: 100 },
      { vcpu: 0, pods: 0 },
      classPriority,
    );
    expect(names(fits)).toEqual(["a", "z"]);
    expect(over.size).toBe(0);
  });

  it("is described for alerts", () => {
    expect(describeUse({ vcpu: 3.5, pods: 7 }, { vcpu: 4, pods: 0 })).toBe(
      "3.5 of 4 vCPU, 7 pods (no limit)",
    );
  });
});
