/**
 * A tag as the OCI distribution spec allows it (`[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`,
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests), which
 * ECR enforces. One rule for every command that takes a tag.
 */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export const IMAGE_TAG_RULE = '1-128 of A-Z a-z 0-9 _ . -, not starting with . or -';

/** The most a `--tag-file` (the pipeline's image.json, a few dozen bytes) may hold. */
export const MAX_TAG_FILE_BYTES = 64 * 1024;
