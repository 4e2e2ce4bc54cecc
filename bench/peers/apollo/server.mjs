// Apollo Server 5 with @apollo/datasource-rest over the metering emulator: the peer that
// bench/runner.py compares our gateway with. The schema passes metering's answers through
// as they are (legacy dates, comma decimals, Russian words), as Hive Gateway's generated
// schema does: no cache, no validation, no mapping — the cheapest honest gateway.
// METERING_URL: the API base (http://127.0.0.1:18102/api/v1); PORT: where to listen.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { RESTDataSource } from '@apollo/datasource-rest';

const METERING_URL = `${process.env.METERING_URL ?? 'http://127.0.0.1:8102/api/v1'}/`;
const PORT = Number(process.env.PORT ?? 4001);

const typeDefs = `#graphql
  "One reading of one zone, as metering gives it."
  type Reading { date: String!  zone: String!  value: String!  source: String!  status: String! }
  "A page of a meter's readings."
  type ReadingsPage { meter_id: Int!  total: Int!  offset: Int!  limit: Int!  items: [Reading!]! }
  "The last reading of a zone."
  type LastReading { zone: String!  value: String!  date: String! }
  "A meter."
  type Meter {
    id: Int!  serial: String!  model: String!  zones: [String!]!  digits: Int!  status: String!
    installed: String!  closed: String  verification_due: String!  last_readings: [LastReading!]!
  }
  "An account's meters."
  type AccountMeters { account: String!  meters: [Meter!]! }
  "A value of one zone."
  input ZoneValue { zone: String!  value: String! }
  "One zone of an accepted submission."
  type SubmittedZone { zone: String!  value: String!  previous: String  consumption: String }
  "Metering's answer to a submission."
  type Submission { request_id: String!  meter_id: Int!  status: String!  replaced: Boolean!  readings: [SubmittedZone!]! }
  type Query {
    "GET /meters/{id}/readings"
    meterReadings(meterId: ID!, limit: Int = 20, offset: Int = 0): ReadingsPage!
    "GET /meters?account=…: the meters of several accounts in one call"
    meters(accounts: [String!]!): [AccountMeters!]!
  }
  type Mutation {
    "POST /meters/{id}/readings"
    submitReadings(meterId: ID!, requestId: String!, values: [ZoneValue!]!): Submission!
  }
`;

class MeteringAPI extends RESTDataSource {
  baseURL = METERING_URL;

  readings(meterId, limit, offset) {
    return this.get(`meters/${encodeURIComponent(meterId)}/readings`, {
      params: { limit: String(limit), offset: String(offset) },
    });
  }

  async meters(accounts) {
    const params = new URLSearchParams();
    for (const account of accounts) params.append('account', account);
    const answer = await this.get('meters', { params });
    return answer.accounts;
  }

  submit(meterId, requestId, values) {
    const body = { request_id: requestId, values: {} };
    for (const { zone, value } of values) body.values[zone] = value;
    return this.post(`meters/${encodeURIComponent(meterId)}/readings`, { body });
  }
}

const resolvers = {
  Query: {
    meterReadings: (_, { meterId, limit, offset }, { metering }) =>
      metering.readings(meterId, limit, offset),
    meters: (_, { accounts }, { metering }) => metering.meters(accounts),
  },
  Meter: {
    // metering keys the last readings by zone code: {"T1": {"value": …, "date": …}}
    last_readings: (meter) =>
      Object.entries(meter.last_readings).map(([zone, reading]) => ({ zone, ...reading })),
  },
  Mutation: {
    submitReadings: (_, { meterId, requestId, values }, { metering }) =>
      metering.submit(meterId, requestId, values),
  },
};

const server = new ApolloServer({ typeDefs, resolvers });
const { url } = await startStandaloneServer(server, {
  listen: { port: PORT, host: '127.0.0.1' },
  context: async () => ({ metering: new MeteringAPI() }),
});
process.stdout.write(`apollo peer ready at ${url}\n`);
