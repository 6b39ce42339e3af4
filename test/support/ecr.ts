/** moto's default account: where moto_server puts every ECR repository it is asked to create. */
export const MOTO_ACCOUNT = '123456789012';

/**
 * A Docker image manifest (schema 2) as ECR's PutImage takes it, with one layer whose digest repeats
 * `layerSeed`: two seeds give two images with different digests.
 */
export function imageManifest(layerSeed = 'a'): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      size: 1469,
      digest: `sha256:${'c'.repeat(64)}`,
    },
    layers: [
      {
        mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
        size: 3370706,
        digest: `sha256:${layerSeed.repeat(64)}`,
      },
    ],
  });
}
