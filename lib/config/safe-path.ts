// Its own module: lib/config/config-file.ts (which imports the schema) and lib/config/service.ts
// (which the schema imports) both use it, and neither may import the other.

/**
 * The path the pipeline passes on to its synth command: segments of letters, digits, ".", "_"
 * and "-", separated by "/". Nothing a shell would interpret, so it is safe even unquoted (and
 * it is quoted anyway, lib/pipeline/pipeline-stack.ts).
 */
export const SAFE_CONFIG_PATH =
  /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;
