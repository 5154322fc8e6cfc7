import type { FunctionDef } from './function-def.js'
import { MATH_FUNCTIONS } from './functions-math.js'
import { MISC_FUNCTIONS } from './functions-misc.js'
import { REGEX_FUNCTIONS } from './functions-regex.js'
import { STRING_FUNCTIONS } from './functions-string.js'
import { TOPIC_FUNCTIONS } from './topic-level.js'

/**
 * Every function a rule can call, by lower-case name: AWS matches function
 * names in any case. All are AWS IoT's but topicLevel(), Switchyard's own.
 */
export const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map(
  Object.entries({ ...MATH_FUNCTIONS, ...STRING_FUNCTIONS, ...REGEX_FUNCTIONS, ...MISC_FUNCTIONS, ...TOPIC_FUNCTIONS }),
)

/**
 * AWS IoT functions that Switchyard does not offer: they call AWS services,
 * read what an MQTT broker here does not record, or format dates with Joda
 * patterns. Named so that a pasted rule fails to load with a clear reason
 * instead of "unknown function".
 */
export const UNSUPPORTED_AWS_FUNCTIONS: ReadonlySet<string> = new Set([
  'accountid',
  'aws_lambda',
  'get_dynamodb',
  'get_mqtt_property',
  'get_registry_data',
  'get_secret',
  'get_thing_shadow',
  'get_user_properties',
  'machinelearning_predict',
  'md2',
  'parse_time',
  'sourceip',
  'time_to_epoch',
  'traceid',
  'transform',
])
