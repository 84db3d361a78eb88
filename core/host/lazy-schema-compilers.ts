/**
 * Fastify's schema compilers, loaded on first use instead of when the server is built.
 *
 * Fastify's defaults (@fastify/ajv-compiler, @fastify/fast-json-stringify-compiler) are required
 * by `Fastify()` and compile ajv's meta-schema when the first route schema is registered: a large
 * share of `ati proxy` startup, for the one route that has a schema (`POST /help`'s body). These
 * factories hand Fastify the same compilers, created with the same arguments, but load and compile
 * them when a request first needs them:
 *
 * - validator: the first validation (first request to a route with a schema) loads ajv, compiles
 *   the schema and answers asynchronously (Fastify accepts a validator that returns a promise);
 *   every later call is the compiled ajv function, called synchronously as before. A schema ajv
 *   rejects therefore fails that first request (500) rather than the startup.
 * - serializer: only routes with response schemas use it (none today); it is required
 *   synchronously when the first one is registered.
 *
 * Fastify treats compilers given this way as custom ones; the one difference that makes is that a
 * `headers` schema is passed to the compiler as written instead of with its property names
 * lower-cased (no route has a headers schema).
 */
import { createRequire } from 'node:module';
import type { ValidatorFactory } from '@fastify/ajv-compiler';
import type { SerializerFactory } from '@fastify/fast-json-stringify-compiler';

/** What Fastify calls: ajv's validate function shape (`errors` read after a `false`). */
type Validate = ((data: unknown, dataCxt?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type RouteCompiler = (route: Parameters<ReturnType<ValidatorFactory>>[0]) => Validate;

let ajvCompiler: Promise<ValidatorFactory> | undefined;
/** One pool of ajv instances per process, as Fastify's default (`ValidatorSelector()` once). */
function loadAjvCompiler(): Promise<ValidatorFactory> {
  ajvCompiler ??= import('@fastify/ajv-compiler').then((m) => {
    const selector = (m.default ?? m) as unknown as () => ValidatorFactory;
    return selector();
  });
  return ajvCompiler;
}

export const lazyValidatorFactory: ValidatorFactory = ((
  externalSchemas: Parameters<ValidatorFactory>[0],
  options: Parameters<ValidatorFactory>[1],
) => {
  const compileRoute: RouteCompiler = (route) => {
    let compiled: Validate | undefined;
    let compiling: Promise<Validate> | undefined;
    const validate: Validate = (data, dataCxt) => {
      if (compiled) {
        const result = compiled(data, dataCxt);
        validate.errors = compiled.errors;
        return result;
      }
      compiling ??= loadAjvCompiler().then(
        (factory) => (compiled = factory(externalSchemas, options)(route) as Validate),
      );
      return compiling.then((fn) => {
        const result = fn(data, dataCxt);
        validate.errors = fn.errors;
        return result;
      });
    };
    // Fastify passes `{ parentData, parentDataProperty }` to validators that have a schemaEnv (ajv's
    // do, so coercion of the root value can write it back); this one forwards it to ajv's.
    validate.schemaEnv = true;
    return validate;
  };
  return compileRoute;
}) as unknown as ValidatorFactory;

let serializerFactory: SerializerFactory | undefined;
export const lazySerializerFactory: SerializerFactory = (externalSchemas, options) => {
  if (!serializerFactory) {
    const selector = createRequire(import.meta.url)('@fastify/fast-json-stringify-compiler') as () => SerializerFactory;
    serializerFactory = selector();
  }
  return serializerFactory(externalSchemas, options);
};

/** The `schemaController` option for `Fastify()`. */
export const lazySchemaController = {
  compilersFactory: { buildValidator: lazyValidatorFactory, buildSerializer: lazySerializerFactory },
};
