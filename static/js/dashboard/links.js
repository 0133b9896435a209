// Where runs and agents open: the run page and the agent page, from the URL templates the server
// renders into each page's config (reversed by name, docs/dashboard.md).

const PLACEHOLDER = "__id__";

export function runHref(config, executionId) {
  return executionId && config.runUrl ? config.runUrl.replace(PLACEHOLDER, encodeURIComponent(executionId)) : null;
}

export function agentHref(config, agentId) {
  return agentId && config.agentUrl ? config.agentUrl.replace(PLACEHOLDER, encodeURIComponent(agentId)) : null;
}

/** A ticker item's or toast's page: the run for run events, the agent for pause and resume. */
export function itemHref(config, item) {
  return runHref(config, item.executionId) ?? agentHref(config, item.agentId);
}
