/**
 * dynalite's own thread (started by dynamodb-server.ts): it parses every request and runs LevelDB, which would
 * otherwise compete with the broker, the queues and the handlers for the main event loop. Plain CommonJS so it
 * needs no TypeScript loader.
 *
 * dynalite parses every UpdateExpression and ConditionExpression with a generated PEG parser, on every request;
 * under ingest load that was about 40% of this thread. The platform sends the same few expressions over and over
 * with new values, so parse results are memoized (see memoizeParser); what dynalite validates, stores and answers
 * is unchanged.
 */
const { parentPort, workerData } = require('node:worker_threads');
const path = require('node:path');

/** Expressions whose validation reads the values themselves, not only their types: always parsed afresh. */
const VALUE_DEPENDENT = /between|attribute_type/i;
const MAX_ENTRIES = 1000;
const MARK = '\u0000memo:';

/** The value's type as dynalite's parsers see it (the first type key that is set). */
function valueType(value) {
  for (const type of ['S', 'N', 'B', 'NULL', 'BOOL', 'SS', 'NS', 'BS', 'L', 'M']) {
    if (value != null && value[type] != null) return type;
  }
  return '';
}

/** A deep copy of a parse result in which every placeholder object is replaced by the value it stands for. */
function substitute(node, values) {
  if (Array.isArray(node)) return node.map((child) => substitute(child, values));
  if (node === null || typeof node !== 'object') return node;
  const value = values.get(node);
  if (value !== undefined) return value;
  // Same prototype: dynalite keeps some maps as Object.create(null) and looks attribute names up in them.
  const copy = Object.create(Object.getPrototypeOf(node));
  for (const key of Object.keys(node)) copy[key] = substitute(node[key], values);
  return copy;
}

/**
 * Wraps a dynalite expression parser so that an expression seen before, with the same attribute names and value
 * types, is not parsed again. The parsers only look at a value's type (except in BETWEEN and attribute_type,
 * which are never memoized), so the result for one request is the result for another with the values swapped.
 *
 * A new expression is parsed twice: once with the request's values, whose result is returned, and once with a
 * placeholder object of the same type for each value. That second result becomes the template only if putting the
 * request's values in place of the placeholders gives exactly the first result and no placeholder is left over;
 * otherwise the expression is never memoized. Invalid expressions (dynalite returns or throws the message) are
 * never memoized either. The attribute names and values the expression uses are recorded, so dynalite's "unused
 * in expressions" check sees the same thing on every request.
 */
function memoizeParser(parse) {
  /** key -> { template, placeholders: Map<placeholder, value name>, usedNames, usedValues }, or null: never */
  const cache = new Map();
  return function memoizedParse(input, options) {
    const context = options.context;
    if (VALUE_DEPENDENT.test(input)) return parse(input, options);
    const attrVals = context.attrVals || {};
    const key = `${input}\n${JSON.stringify(context.attrNames || null)}\n${Object.keys(attrVals)
      .map((name) => `${name}=${valueType(attrVals[name])}`)
      .join(',')}`;
    const entry = cache.get(key);
    if (entry === null) return parse(input, options);
    if (entry) {
      for (const name of entry.usedNames) delete context.unusedAttrNames[name];
      for (const name of entry.usedValues) delete context.unusedAttrVals[name];
      const values = new Map();
      for (const [placeholder, name] of entry.placeholders) values.set(placeholder, attrVals[name]);
      return substitute(entry.template, values);
    }
    const result = parse(input, options);
    if (cache.size >= MAX_ENTRIES) cache.clear();
    cache.set(
      key,
      typeof result === 'object' && result !== null ? learn(parse, input, context, result) : null,
    );
    return result;
  };
}

/** Builds the cache entry for a valid expression (see memoizeParser), or null when it must not be memoized. */
function learn(parse, input, context, expected) {
  const attrNames = context.attrNames || {};
  const attrVals = context.attrVals || {};
  const placeholders = new Map();
  const placeholderVals = {};
  for (const name of Object.keys(attrVals)) {
    const placeholder = { [valueType(attrVals[name]) || 'S']: `${MARK}${name}` };
    placeholders.set(placeholder, name);
    placeholderVals[name] = placeholder;
  }
  // Every name and value counts as unused here, so what is left afterwards is what this expression alone uses
  // (the request's own sets already lack what an earlier expression of the request used).
  const unusedAttrNames = Object.fromEntries(Object.keys(attrNames).map((name) => [name, true]));
  const unusedAttrVals = Object.fromEntries(Object.keys(attrVals).map((name) => [name, true]));
  let template;
  try {
    template = parse(input, {
      context: { ...context, attrVals: placeholderVals, unusedAttrNames, unusedAttrVals },
    });
  } catch {
    return null;
  }
  const values = new Map();
  for (const [placeholder, name] of placeholders) values.set(placeholder, attrVals[name]);
  const rebuilt = JSON.stringify(substitute(template, values));
  if (rebuilt !== JSON.stringify(expected) || rebuilt.includes(MARK)) return null;
  return {
    template,
    placeholders,
    usedNames: Object.keys(attrNames).filter((name) => !(name in unusedAttrNames)),
    usedValues: Object.keys(attrVals).filter((name) => !(name in unusedAttrVals)),
  };
}

const dynaliteDir = path.dirname(workerData.dynalitePath);
// The validation module calls `parser.parse` on these module objects at request time, so replacing `parse` here,
// before dynalite is loaded, is seen by every request.
for (const name of ['conditionParser', 'updateParser']) {
  const parser = require(path.join(dynaliteDir, 'db', name));
  parser.parse = memoizeParser(parser.parse);
}

/**
 * Capacity metering for the local usage meter: every read and write request is answered as if it had asked for
 * `ReturnConsumedCapacity: TOTAL`, dynalite's own figure (DynamoDB's size rules: 1 KB per write unit, 4 KB per
 * read unit, half for eventually consistent reads) is added to shared counters, and the field is removed again
 * when the caller did not ask for it. A conditional write that fails still costs DynamoDB a write unit; dynalite
 * reports nothing for it, so it is counted as one. Counters are in half units (eventually consistent reads).
 */
const READ_ACTIONS = ['getItem', 'batchGetItem', 'query', 'scan'];
const WRITE_ACTIONS = ['putItem', 'updateItem', 'deleteItem', 'batchWriteItem'];
const consumed = workerData.consumedCapacity ? new BigInt64Array(workerData.consumedCapacity) : undefined;

function unitsOf(capacity) {
  if (Array.isArray(capacity)) return capacity.reduce((sum, entry) => sum + unitsOf(entry), 0);
  return capacity && typeof capacity.CapacityUnits === 'number' ? capacity.CapacityUnits : 0;
}

function meterAction(action, slot) {
  return function meteredAction(store, data, cb) {
    const asked = data.ReturnConsumedCapacity === 'TOTAL' || data.ReturnConsumedCapacity === 'INDEXES';
    if (!asked) data.ReturnConsumedCapacity = 'TOTAL';
    action(store, data, (err, result) => {
      let units = 0;
      if (err) {
        const type = String(err.body?.__type ?? '');
        if (slot === 1 && type.includes('ConditionalCheckFailed')) units = 1;
      } else if (result) {
        units = unitsOf(result.ConsumedCapacity);
        if (!asked) delete result.ConsumedCapacity;
      }
      if (units > 0) Atomics.add(consumed, slot, BigInt(Math.round(units * 2)));
      cb(err, result);
    });
  };
}

if (consumed) {
  // The batch actions call the single-item actions they loaded themselves; load them all first so those keep
  // the unmetered originals, then hand dynalite's dispatcher (loaded next) the metered versions only.
  const actionsDir = path.join(dynaliteDir, 'actions');
  const modules = [...READ_ACTIONS, ...WRITE_ACTIONS].map((name) => {
    const file = require.resolve(path.join(actionsDir, name));
    return { name, file, action: require(file) };
  });
  for (const { name, file, action } of modules) {
    require.cache[file].exports = meterAction(action, WRITE_ACTIONS.includes(name) ? 1 : 0);
  }
}
const dynalite = require(workerData.dynalitePath);

const server = dynalite({ path: workerData.directory, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.once('error', (error) => parentPort.postMessage({ error: error.message }));
server.listen(workerData.port, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  if (server.closeAllConnections) server.closeAllConnections();
  server.close(() => parentPort.postMessage({ closed: true }));
});
