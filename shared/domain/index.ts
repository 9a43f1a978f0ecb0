export * from './activity.js';
export * from './signal.js';
export * from './presence.js';
export * from './working-hours.js';
export * from './policy.js';
