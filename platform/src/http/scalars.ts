/** Custom scalars shared by subgraphs. */
import { GraphQLScalarType, Kind } from 'graphql';
import { badInput } from './errors.js';

/** `DateTime`: an ISO-8601 UTC timestamp string, e.g. `2026-11-21T09:00:00.000Z`. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An ISO-8601 UTC timestamp, e.g. 2026-11-21T09:00:00.000Z.',
  serialize(value) {
    const d = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(d.getTime())) throw new TypeError('DateTime cannot represent an invalid date');
    return d.toISOString();
  },
  parseValue(value) {
    const d = new Date(value as string);
    if (typeof value !== 'string' || Number.isNaN(d.getTime())) throw badInput('DateTime', 'expected an ISO-8601 timestamp');
    return d;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING || Number.isNaN(new Date(ast.value).getTime()))
      throw badInput('DateTime', 'expected an ISO-8601 timestamp');
    return new Date(ast.value);
  },
});
