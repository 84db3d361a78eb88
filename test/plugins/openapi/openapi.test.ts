/**
 * The openapi handler: the reference's manifests and specs load with the
 * expected tool names and counts; filters, overrides, schemas, 3.1, circular
 * `$ref`s, YAML, PATCH, spec errors and spec edits on reload. Calls go to a
 * real loopback upstream (base_url rewritten) through the shared engine.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/proxy-process.js';
import { startUpstream, type RecordingUpstream } from '../../helpers/recording-upstream.js';
import { startToolHost, type ToolHost } from '../../helpers/tool-host.js';

const REFERENCE = path.resolve(REPO_ROOT, '..', 'shared', 'reference-data', 'ati');
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

const ref = (rel: string) => readFileSync(path.join(REFERENCE, rel), 'utf8');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');
/** A reference manifest with its base_url pointed at the local upstream. */
const pointedAt = (text: string, url: string) => text.replace(/^base_url = ".*"$/m, `base_url = "${url}"`);

const petstore = (url: string, extra = '') =>
  `[provider]\nname = "petstore"\ndescription = "Petstore"\nhandler = "openapi"\nbase_url = "${url}"\nopenapi_spec = "petstore.json"\n${extra}\n`;

interface ListedTool {
  name: string;
  provider: string;
  method: string;
  tags: string[];
  input_schema: Record<string, unknown>;
}

describe('openapi handler', () => {
  let up: RecordingUpstream;
  let th: ToolHost | undefined;
  beforeEach(async () => {
    up = await startUpstream();
  });
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await up.close();
  });

  const list = async (query = ''): Promise<ListedTool[]> =>
    (await (await fetch(`${th!.url}/tools${query}`)).json()) as ListedTool[];

  it('loads the reference manifests and specs with the expected names and counts, and calls them', async () => {
    th = await startToolHost({
      manifests: Object.fromEntries(
        ['_llm', 'clinicaltrials', 'crossref', 'finnhub', 'hackernews'].map((n) => [
          n,
          pointedAt(ref(`manifests/${n}.toml`), up.url),
        ]),
      ),
      files: Object.fromEntries(
        ['clinicaltrials.json', 'crossref.json', 'finnhub.json'].map((f) => [`specs/${f}`, ref(`specs/${f}`)]),
      ),
      keyring: { finnhub_api_key: 'fh-key-123' },
    });
    const tools = await list();
    const count = (p: string) => tools.filter((t) => t.provider === p).length;
    expect([count('clinicaltrials'), count('crossref'), count('finnhub'), count('hackernews'), count('_llm')]).toEqual([
      1, 18, 50, 3, 0,
    ]);
    expect(tools.find((t) => t.provider === 'clinicaltrials')!.name).toBe('clinicaltrials:searchStudies');
    const crossref = tools.filter((t) => t.provider === 'crossref').map((t) => t.name);
    expect(crossref).toContain('crossref:get_works_doi');
    expect(crossref).toContain('crossref:get_members_id_works');
    expect(crossref[0]).toBe('crossref:get_members_id_works');
    // finnhub: the first 50 operations in spec order.
    const finnhub = tools.filter((t) => t.provider === 'finnhub').map((t) => t.name);
    expect(finnhub.slice(0, 3)).toEqual(['finnhub:symbol-search', 'finnhub:stock-symbols', 'finnhub:market-status']);
    expect(finnhub.at(-1)).toBe('finnhub:stock-basic-dividends');
    expect(tools.filter((t) => t.provider === 'hackernews').map((t) => t.name)).toEqual([
      'hackernews_top_stories',
      'hackernews_new_stories',
      'hackernews_best_stories',
    ]);
    expect((await (await fetch(`${th.url}/health`)).json()) as Record<string, unknown>).toMatchObject({
      tools: 72,
      providers: 5,
    });

    expect((await th.call('crossref:get_works_doi', { doi: '10.1000/xyz 1' })).status).toBe(200);
    expect(up.requests[0]).toMatchObject({ method: 'GET', url: '/works/10.1000%2Fxyz%201' });
    await th.call('finnhub:quote', { symbol: 'AAPL' });
    expect(up.requests[1]!.path).toBe('/quote');
    expect(Object.fromEntries(up.requests[1]!.query)).toEqual({ symbol: 'AAPL', token: 'fh-key-123' });
    await th.call('clinicaltrials:searchStudies', { 'query.term': 'asthma' });
    expect(Object.fromEntries(up.requests[2]!.query)).toEqual({
      'query.term': 'asthma',
      pageSize: '10',
      format: 'json',
    });
    await th.call('hackernews_top_stories');
    expect(up.requests[3]!.url).toBe('/topstories.json');
    // The underscore alias reaches openapi tools too.
    expect((await th.call('finnhub_quote', { symbol: 'X' })).status).toBe(200);
  });

  it('registers the petstore operations (multipart and HEAD excluded) with their schemas', async () => {
    th = await startToolHost({
      manifests: { petstore: petstore(up.url) },
      files: { 'specs/petstore.json': fixture('petstore.json') },
    });
    const tools = await list();
    expect(tools.map((t) => t.name)).toEqual([
      'petstore:getPetById',
      'petstore:deletePet',
      'petstore:addPet',
      'petstore:findPetsByStatus',
      'petstore:getInventory',
      'petstore:getUserByName',
    ]);
    const byName = Object.fromEntries(tools.map((t) => [t.name.split(':')[1], t]));
    const getPet = byName['getPetById']!;
    expect(getPet.tags).toEqual(['pet']);
    expect(getPet.input_schema).toEqual({
      type: 'object',
      properties: {
        petId: { type: 'integer', format: 'int64', description: 'ID of the pet', 'x-ati-param-location': 'path' },
      },
      required: ['petId'],
    });
    const addPet = byName['addPet']!.input_schema as {
      properties: Record<string, Record<string, unknown>>;
      required: string[];
    };
    expect(Object.values(addPet.properties).every((p) => p['x-ati-param-location'] === 'body')).toBe(true);
    expect(addPet.required).toEqual(['name', 'photoUrls']);
    expect(addPet.properties['category']).toMatchObject({
      type: 'object',
      properties: { id: { type: 'integer' }, name: { type: 'string' } },
    });
    const find = byName['findPetsByStatus']!.input_schema as { properties: Record<string, Record<string, unknown>> };
    expect(find.properties['status']).toMatchObject({
      'x-ati-param-location': 'query',
      'x-ati-collection-format': 'multi',
      type: 'array',
    });
    expect(find.properties['tags']).toMatchObject({ 'x-ati-collection-format': 'csv' });
    expect(find.properties['limit']).toMatchObject({ type: 'integer', default: 20, 'x-ati-param-location': 'query' });
    expect(byName['getPetById']!.method).toBe('GET');
    const one = (await (await fetch(`${th.url}/tools/petstore:getPetById`)).json()) as Record<string, unknown>;
    expect(one).toMatchObject({
      description: 'Find pet by ID — Returns a single pet',
      endpoint: '/pet/{petId}',
      scope: 'tool:petstore:getPetById',
      hint: null,
    });

    await th.call('petstore:findPetsByStatus', { status: ['available', 'pending'], tags: ['a', 'b'] });
    expect(up.requests[0]!.url).toBe('/pet/findByStatus?status=available&status=pending&tags=a%2Cb&limit=20');
    await th.call('petstore:addPet', { name: 'Rex', photoUrls: [], category: { id: 1 } });
    expect(up.requests[1]).toMatchObject({ method: 'POST', path: '/pet' });
    expect(JSON.parse(up.requests[1]!.body)).toEqual({ name: 'Rex', photoUrls: [], category: { id: 1 } });
    expect((await th.call('petstore:addPet', { name: 'NoPhotos' })).status).toBe(400);
  });

  it('applies include/exclude filters and the operation cap', async () => {
    const files = { 'specs/petstore.json': fixture('petstore.json') };
    const names = async (extra: string) => {
      th = await startToolHost({ manifests: { petstore: petstore(up.url, extra) }, files });
      const out = (await list()).map((t) => t.name.split(':')[1]);
      await th.close();
      th = undefined;
      return out;
    };
    expect(await names('openapi_include_tags = ["pet"]')).toEqual([
      'getPetById',
      'deletePet',
      'addPet',
      'findPetsByStatus',
    ]);
    expect(await names('openapi_exclude_tags = ["store", "user"]')).toEqual([
      'getPetById',
      'deletePet',
      'addPet',
      'findPetsByStatus',
    ]);
    expect(await names('openapi_exclude_operations = ["deletePet", "addPet"]')).toEqual([
      'getPetById',
      'findPetsByStatus',
      'getInventory',
      'getUserByName',
    ]);
    expect(await names('openapi_include_operations = ["getInventory", "uploadFile"]')).toEqual(['getInventory']);
    expect(await names('openapi_max_operations = 2')).toEqual(['getPetById', 'deletePet']);
  });

  it('applies overrides: description, hint, added tags, scope and response_extract', async () => {
    th = await startToolHost({
      manifests: {
        petstore: petstore(
          up.url,
          `[provider.openapi_overrides.getPetById]\ndescription = "Look up one pet"\nhint = "use findPetsByStatus first"\ntags = ["animals", "pet"]\nscope = "tool:pets_read"\nresponse_extract = "$.name"\nexamples = ["petId=1"]`,
        ),
      },
      files: { 'specs/petstore.json': fixture('petstore.json') },
    });
    const one = (await (await fetch(`${th.url}/tools/petstore:getPetById`)).json()) as Record<string, unknown>;
    expect(one).toMatchObject({
      description: 'Look up one pet',
      hint: 'use findPetsByStatus first',
      tags: ['animals', 'pet'],
      scope: 'tool:pets_read',
    });
    up.handle((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":1,"name":"Rex"}');
    });
    expect((await th.call('petstore:getPetById', { petId: 1 })).body).toEqual({ result: 'Rex' });
    expect(up.requests[0]!.url).toBe('/pet/1');
  });

  it('loads an OpenAPI 3.1 YAML spec (type arrays, path-item $ref, form body) and sends PATCH as PATCH', async () => {
    th = await startToolHost({
      manifests: {
        todo: `[provider]\nname = "todo"\ndescription = "t"\nhandler = "openapi"\nbase_url = "${up.url}/api"\nopenapi_spec = "todo.yaml"\n`,
      },
      files: { 'specs/todo.yaml': fixture('todo-3.1.yaml') },
    });
    const tools = await list();
    expect(tools.map((t) => t.name)).toEqual(['todo:updateTodo', 'todo:get_todos', 'todo:createTodo']);
    const update = tools[0]!;
    expect(update.method).toBe('PATCH');
    expect(update.input_schema['properties']).toMatchObject({
      id: { type: 'string', 'x-ati-param-location': 'path' },
      done: { type: 'boolean', 'x-ati-param-location': 'body' },
      owner: { type: 'object', description: 'who owns it', properties: { name: { type: 'string' } } },
    });
    expect(tools[1]!.input_schema['properties']).toMatchObject({
      done: { type: 'boolean' },
      labels: { 'x-ati-collection-format': 'pipes' },
    });
    expect(tools[2]!.input_schema).toMatchObject({
      'x-ati-body-encoding': 'form',
      required: ['title'],
      properties: { title: { example: 'buy milk' } },
    });

    await th.call('todo:updateTodo', { id: 'a1', title: 'new', done: true });
    expect(up.requests[0]).toMatchObject({ method: 'PATCH', path: '/api/todos/a1' });
    expect(JSON.parse(up.requests[0]!.body)).toEqual({ title: 'new', done: true });
    await th.call('todo:createTodo', { title: 'buy milk', priority: 2 });
    expect(up.requests[1]).toMatchObject({ method: 'POST', body: 'title=buy+milk&priority=2' });
    await th.call('todo_get_todos', { labels: ['x', 'y'] });
    expect(up.requests[2]!.url).toBe('/api/todos?labels=x%7Cy');
  });

  it('loads a spec with circular $refs (self, mutual, and a parameter that refers to itself)', async () => {
    th = await startToolHost({
      manifests: {
        trees: `[provider]\nname = "trees"\ndescription = "t"\nhandler = "openapi"\nbase_url = "${up.url}"\nopenapi_spec = "circular.json"\n`,
      },
      files: { 'specs/circular.json': fixture('circular.json') },
    });
    const tools = await list();
    expect(tools.map((t) => t.name)).toEqual(['trees:createTree', 'trees:putPair', 'trees:loopRef']);
    const tree = tools[0]!.input_schema['properties'] as Record<string, Record<string, unknown>>;
    expect(tree['children']).toMatchObject({
      type: 'array',
      items: { type: 'object', description: '(recursive: Node)' },
      'x-ati-param-location': 'body',
    });
    expect(tree['parent']).toMatchObject({ type: 'object', description: '(recursive: Node)' });
    const pair = tools[1]!.input_schema['properties'] as Record<string, Record<string, unknown>>;
    expect(pair['b']).toMatchObject({
      type: 'object',
      properties: { a: { type: 'object', description: '(recursive: A)' } },
    });
    expect(tools[2]!.input_schema).toEqual({ type: 'object', properties: {} });
    await th.call('trees:putPair', { name: 'n', b: { a: {} } });
    expect(up.requests[0]).toMatchObject({ method: 'PUT', path: '/pairs' });
  });

  it('a spec that cannot be loaded is a startup error naming the file and the reason', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /OpenAPI spec .*specs\/petstore\.json: file not found/],
      [
        { 'specs/petstore.json': '{"swagger":"2.0","paths":{}}' },
        /is a Swagger 2\.0 document; only OpenAPI 3\.0 and 3\.1 are supported/,
      ],
      [{ 'specs/petstore.json': 'openapi: [unclosed' }, /is neither valid JSON nor valid YAML/],
      [{ 'specs/petstore.json': '{"openapi":"2.5.0"}' }, /OpenAPI version 2\.5\.0 is not supported/],
    ];
    for (const [files, re] of cases) {
      await expect(startToolHost({ manifests: { petstore: petstore(up.url) }, files })).rejects.toSatisfy(
        (err: unknown) => {
          const e = err as { errors?: Array<{ describe(): string }> };
          const text = (e.errors ?? []).map((x) => x.describe()).join('\n');
          expect(text).toMatch(re);
          expect(text).toMatch(/petstore\.toml: provider "petstore" \(handler openapi\) failed to provision/);
          return true;
        },
      );
    }
  });

  it('re-provisions the provider when its spec file changes, even if the manifest did not', async () => {
    th = await startToolHost({
      manifests: { petstore: petstore(up.url, 'openapi_include_tags = ["store"]') },
      files: { 'specs/petstore.json': fixture('petstore.json') },
    });
    expect((await list()).map((t) => t.name)).toEqual(['petstore:getInventory']);
    const edited = JSON.parse(fixture('petstore.json')) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    edited.paths['/store/inventory']!['get']!.operationId = 'inventory';
    await writeFile(path.join(th.dir.dir, 'specs', 'petstore.json'), JSON.stringify(edited));
    const r = await th.host.reload('test');
    expect(r).toMatchObject({ status: 'applied', provisioned: ['petstore'] });
    expect((await list()).map((t) => t.name)).toEqual(['petstore:inventory']);
    expect(await th.host.reload('test')).toMatchObject({ status: 'unchanged' });
  });

  it('warns that hand-written [[tools]] are ignored when a spec is set; without a spec they work like http tools', async () => {
    th = await startToolHost({
      manifests: {
        petstore: `${petstore(up.url, 'openapi_include_operations = ["getInventory"]')}\n[[tools]]\nname = "manual"\ndescription = "m"\n`,
        plain: `[provider]\nname = "plain"\ndescription = "p"\nhandler = "openapi"\nbase_url = "${up.url}"\n\n[[tools]]\nname = "plain_get"\ndescription = "x"\nendpoint = "/plain"\n`,
      },
      files: { 'specs/petstore.json': fixture('petstore.json') },
    });
    expect((await list()).map((t) => t.name)).toEqual(['petstore:getInventory', 'plain_get']);
    expect(th.logs.some((l) => l.includes('[[tools]] are ignored when openapi_spec is set'))).toBe(true);
    expect((await th.call('plain_get')).status).toBe(200);
    expect(up.requests[0]!.path).toBe('/plain');
  });
});
