import { readFile } from 'node:fs/promises';
import ts from 'typescript';

/**
 * @typedef {{ url: string, format?: string | null, shortCircuit?: boolean }} Resolved
 * @typedef {{ format: string, source?: string | Buffer | null, shortCircuit?: boolean }} Loaded
 */

/**
 * Relative `./x.js` imports name the compiled file: from sources, they mean `./x.ts`.
 * @param {string} specifier
 * @param {object} context
 * @param {(specifier: string, context: object) => Promise<Resolved>} next
 * @returns {Promise<Resolved>}
 */
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (specifier.startsWith('.') && specifier.endsWith('.js'))
      return next(`${specifier.slice(0, -3)}.ts`, context);
    throw err;
  }
}

/**
 * @param {string} url
 * @param {object} context
 * @param {(url: string, context: object) => Promise<Loaded>} next
 * @returns {Promise<Loaded>}
 */
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: url,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      sourceMap: false,
    },
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}
