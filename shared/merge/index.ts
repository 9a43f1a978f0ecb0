export { merge, sameState } from './merge.js';
export { judge, staleAfter, type Freshness } from './freshness.js';
export { workingHoursAt, endOfWorkingDay, isValidHHMM, isValidZone } from './working-hours.js';
