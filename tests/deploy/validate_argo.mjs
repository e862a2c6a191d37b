// Validates Argo CD and Argo Rollouts objects against the CRDs' OpenAPI schemas shipped by
// @kubernetes-models/argo-cd and @kubernetes-models/argo-rollouts. Reads a JSON array of
// objects on stdin; writes a JSON array of {kind, name, errors} (errors null when valid).
// Copied next to the packages' node_modules by tests/deploy/test_gitops.py.
import * as cd from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1";
import * as rollouts from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1";

const models = {
  Application: cd.Application,
  AppProject: cd.AppProject,
  Rollout: rollouts.Rollout,
  AnalysisTemplate: rollouts.AnalysisTemplate,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((object) => {
  const model = models[object.kind];
  const name = object.metadata?.name ?? null;
  if (!model) return { kind: object.kind, name, errors: `no model for kind ${object.kind}` };
  try {
    new model(object).validate();
    return { kind: object.kind, name, errors: null };
  } catch (error) {
    return { kind: object.kind, name, errors: String(error.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
