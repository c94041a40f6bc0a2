/** What reads by id and searches touch, and what PostgreSQL's cache can hold of it. */
export interface CacheFit {
  /** shared_buffers. */
  cacheBytes: number;
  /** things, policies and policy_readers with their indexes and TOAST. */
  dataBytes: number;
}

const MB = 2 ** 20;
const size = (bytes: number) =>
  bytes >= 1024 * MB ? `${(bytes / 1024 / MB).toFixed(1)} GB` : `${Math.round(bytes / MB)} MB`;

/**
 * The warning for a cache smaller than the data, or undefined when it holds it: past it a search
 * reads its matches' pages through the kernel, twice PostgreSQL's CPU per search at a million
 * things (README, "Sizing PostgreSQL").
 */
export function cacheAdvice({ cacheBytes, dataBytes }: CacheFit): string | undefined {
  if (dataBytes <= cacheBytes) return undefined;
  return (
    `PostgreSQL's cache (shared_buffers ${size(cacheBytes)}) is smaller than the things, policies ` +
    `and their readers with indexes (${size(dataBytes)}): reads and searches go to the kernel for ` +
    `pages, searches cost up to twice the CPU. Raise shared_buffers towards ${size(dataBytes)} ` +
    `(README, "Sizing PostgreSQL").`
  );
}
