import { packageConfig } from '../../tsup.base';

export default packageConfig({ index: 'src/index.ts', bench: 'src/bench.ts' });
